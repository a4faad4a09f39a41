// The nsenter constructor: see nsenter.go for the protocol. It runs before
// the Go runtime, single-threaded, and reports failures on stderr and by
// exiting non-zero; the parent turns that into one clear error.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int sync_fd = -1;

/* A runtime command keeps its own threads on the CPU it started on: on a
 * VM, waking a thread on another CPU costs an interrupt to the host, and a
 * Go process wakes its threads dozens of times a command (see
 * affinity.go). It and init also sleep with a wide timer slack, so that
 * Go's sysmon, which sleeps 20 us at a time while a goroutine runs or sits
 * in a system call, wakes about once per slack instead of every ~90 us.
 * Children, and the program init executes, get the affinity and slack
 * the process started with. */
static cpu_set_t orig_affinity, pinned_affinity;
static int pinned;
static unsigned long orig_slack;
static int slack_widened;

#define WIDE_SLACK_NS 1000000UL

static void widen_timer_slack(void)
{
	/* 0: a real-time task, which has no slack. */
	int cur = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (cur <= 0 || (unsigned long)cur >= WIDE_SLACK_NS)
		return;
	orig_slack = cur;
	if (prctl(PR_SET_TIMERSLACK, WIDE_SLACK_NS, 0, 0, 0) == 0)
		slack_widened = 1;
}

static void pin_to_this_cpu(void)
{
	int cpu;
	if (sched_getaffinity(0, sizeof(orig_affinity), &orig_affinity) < 0 || CPU_COUNT(&orig_affinity) < 2)
		return;
	cpu = sched_getcpu();
	if (cpu < 0 || !CPU_ISSET(cpu, &orig_affinity))
		return;
	CPU_ZERO(&pinned_affinity);
	CPU_SET(cpu, &pinned_affinity);
	if (sched_setaffinity(0, sizeof(pinned_affinity), &pinned_affinity) == 0)
		pinned = 1;
}

/* set_slack gives the calling thread a timer slack; 0 or an errno. */
static int set_slack(unsigned long ns)
{
	return prctl(PR_SET_TIMERSLACK, ns, 0, 0, 0) < 0 ? errno : 0;
}

/* minirunc_restore_slack gives the calling thread back the timer slack
 * the process started with, for good: init calls it on the thread that
 * executes the container's program, which must not inherit the wide one
 * (nor, through it, what init starts). */
int minirunc_restore_slack(void)
{
	if (!slack_widened)
		return 0;
	int e = set_slack(orig_slack);
	if (e == 0)
		slack_widened = 0;
	return e;
}

/* minirunc_set_sched gives the calling thread the affinity and timer
 * slack the process started with (orig) or the command's own (one CPU,
 * wide slack); 0 or an errno. */
int minirunc_set_sched(int orig)
{
	if (pinned && sched_setaffinity(0, sizeof(cpu_set_t), orig ? &orig_affinity : &pinned_affinity) < 0)
		return errno;
	if (slack_widened)
		return set_slack(orig ? orig_slack : WIDE_SLACK_NS);
	return 0;
}

int minirunc_sched_changed(void) { return pinned || slack_widened; }

/* die reports on the sync socket, as Go init does, so the parent shows one
 * clear line; stderr only when there is no socket. */
static void die(const char *what, int err)
{
	char msg[512], safe[256];
	size_t i;
	/* what may hold a path: keep the JSON line valid. */
	for (i = 0; what[i] && i < sizeof(safe) - 1; i++)
		safe[i] = (what[i] == '"' || what[i] == '\\' || (unsigned char)what[i] < 0x20) ? '?' : what[i];
	safe[i] = 0;
	int n = snprintf(msg, sizeof(msg), "{\"type\":\"error\",\"msg\":\"nsenter: %s: %s\"}\n", safe, strerror(err));
	if (sync_fd < 0 || write(sync_fd, msg, n) != n)
		fprintf(stderr, "minirunc init: nsenter: %s: %s\n", what, strerror(err));
	_exit(1);
}

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);
	return v && *v ? atoi(v) : def;
}

static void send_msg(int sync, const char *msg)
{
	size_t len = strlen(msg);
	if (write(sync, msg, len) != (ssize_t)len)
		die("write to sync socket", errno);
}

/* join_cgroups moves this process, still its only thread, into the
 * container's v1 cgroups by writing "0" to each tasks file (one path per
 * line). A thread moving itself skips the kernel's global migration lock,
 * whose first taker waits for an RCU grace period; the threads Go starts
 * later are born in these cgroups. */
static void join_cgroups(char *list)
{
	char *save = NULL, *path, what[300];
	for (path = strtok_r(list, "\n", &save); path; path = strtok_r(NULL, "\n", &save)) {
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1) {
			snprintf(what, sizeof(what), "join cgroup %s", path);
			die(what, errno);
		}
		close(fd);
	}
}

void minirunc_nsenter(void)
{
	const char *setns_list = getenv("_MINIRUNC_SETNS");
	int unshare_flags = env_int("_MINIRUNC_UNSHARE", 0);
	int do_fork = env_int("_MINIRUNC_FORK", 0);
	int become_root = env_int("_MINIRUNC_ROOT", 0);
	const char *cgroup_tasks = getenv("_MINIRUNC_CGROUP_TASKS");
	int sync = env_int("_MINIRUNC_SYNCFD", -1);
	char buf[64];

	if (!setns_list && !unshare_flags && !do_fork && !become_root && !cgroup_tasks) {
		/* init (it has a sync socket) keeps the affinity its container
		 * is to have; an ordinary command is pinned. */
		if (sync < 0)
			pin_to_this_cpu();
		widen_timer_slack();
		return;
	}
	if (sync < 0)
		die("no sync socket", EINVAL);
	sync_fd = sync;

	/* Still in the host's user and mount namespaces: cgroups first. */
	if (cgroup_tasks && *cgroup_tasks) {
		char *list = strdup(cgroup_tasks);
		if (!list)
			die("join cgroups", ENOMEM);
		join_cgroups(list);
		free(list);
	}
	unsetenv("_MINIRUNC_CGROUP_TASKS");

	/* Join: the parent lists the user namespace first, so that the
	 * others are joined with the privileges it grants. */
	if (setns_list && *setns_list) {
		char *list = strdup(setns_list), *save = NULL, *tok;
		for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			int fd = atoi(tok);
			if (setns(fd, 0) < 0) {
				snprintf(buf, sizeof(buf), "setns fd %d", fd);
				die(buf, errno);
			}
			close(fd);
		}
		free(list);
	}
	/* In a joined user namespace the host uid may be unmapped: act as
	 * the namespace's root, whose capabilities setns granted. */
	if (become_root && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		die("become root in the joined user namespace", errno);

	/* A new user namespace first, then the parent writes its id maps,
	 * then the rest, owned by it. */
	if (unshare_flags & CLONE_NEWUSER) {
		char ack;
		if (unshare(CLONE_NEWUSER) < 0)
			die("unshare user namespace", errno);
		send_msg(sync, "{\"type\":\"usermap\"}\n");
		if (read(sync, &ack, 1) != 1)
			die("wait for id maps", errno ? errno : EPIPE);
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			die("become root in the user namespace", errno);
	}
	if ((unshare_flags & ~CLONE_NEWUSER) && unshare(unshare_flags & ~CLONE_NEWUSER) < 0)
		die("unshare namespaces", errno);

	unsetenv("_MINIRUNC_SETNS");
	unsetenv("_MINIRUNC_UNSHARE");
	unsetenv("_MINIRUNC_FORK");
	unsetenv("_MINIRUNC_ROOT");
	if (!do_fork) {
		widen_timer_slack();
		return;
	}

	/* setns and unshare of a pid or time namespace only affect children.
	 * CLONE_PARENT makes the child a sibling: a child of the runtime,
	 * which can wait for it. */
	pid_t pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		die("fork into the pid namespace", errno);
	if (pid == 0) {
		/* The child goes on into Go; widened only now, so that its
		 * default slack, which a forked child takes from its parent's
		 * current one, stays the original. */
		widen_timer_slack();
		return;
	}
	snprintf(buf, sizeof(buf), "{\"type\":\"pid\",\"pid\":%d}\n", pid);
	send_msg(sync, buf);
	_exit(0);
}
