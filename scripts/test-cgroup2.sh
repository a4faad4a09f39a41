#!/usr/bin/env bash
# test-cgroup2.sh VM DIR TESTS: run the integration tests matching TESTS
# (bin/integration.test and bin/minirunc, both static, built by make) in a throw-away
# pure cgroup v2 guest (cgv2-vm.sh). It fails loudly when the VM cannot
# boot, the guest is not cgroup v2, a test fails or the tests did not run.
#
# A guest that stops answering altogether (no output and no exit code, as
# seen once in CI under software emulation) is booted once more; a hang
# inside the tests is not retried: the test binary's own timeout turns it
# into a failure with every goroutine's stack. The guest's kernel reports
# hung tasks and lockups on the console, so a hang leaves its reason in the
# log.
set -uo pipefail
vm=$1 dir=$2 tests=$3
log=$dir/bin/cgroup2-test.log
attempt_timeout=${CGV2_ATTEMPT_TIMEOUT:-480}

guest() {
	CGV2_VM_TIMEOUT=$attempt_timeout "$vm" run "$dir" sh -c '
		test -e /sys/fs/cgroup/cgroup.controllers && ! grep -q " cgroup " /proc/mounts || { echo "GUEST IS NOT PURE CGROUP V2"; exit 3; }
		dmesg -n 4
		echo 60 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
		MINIRUNC_BIN='"$dir"'/bin/minirunc exec '"$dir"'/bin/integration.test \
			-test.run "'"$tests"'" -test.v -test.count=1 -test.timeout 360s'
}

echo "test-cgroup2: booting the cgroup v2 guest (log: ${log#"$dir"/})"
for attempt in 1 2; do
	guest >"$log" 2>&1
	rc=$?
	[ "$rc" -eq 124 ] && [ "$attempt" -eq 1 ] || break
	echo "test-cgroup2: the guest gave no exit code within ${attempt_timeout}s; its log:" >&2
	tail -40 "$log" >&2
	echo "test-cgroup2: booting it once more" >&2
	cp "$log" "$log.1"
done
grep -E '^(--- |FAIL|ok|PASS$)|GUEST|cgv2-vm.sh' "$log" | grep -v -- '--- PASS'
if [ "$rc" -ne 0 ]; then
	echo "test-cgroup2: FAILED (exit $rc), see $log" >&2
	tail -40 "$log" >&2
	exit 1
fi
if ! grep -q -- '--- PASS: TestCgroupResourcesWritten' "$log"; then
	echo "test-cgroup2: FAILED: the tests did not run in the guest, see $log" >&2
	exit 1
fi
echo "test-cgroup2: ok ($(grep -c -- '--- PASS' "$log") passed in the cgroup v2 guest)"
