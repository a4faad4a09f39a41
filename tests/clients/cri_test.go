package clients

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Kubernetes' path: containerd's CRI plugin, runtime handler "minirunc"
// (runtime_type io.containerd.runc.v2, BinaryName = the runtime under
// test), driven through the CRI API as the kubelet drives it. Pods use the
// host's network (the run's private network namespace), so no CNI is
// needed; the sandbox image is the locally imported mrc-pause.
var criConn *grpc.ClientConn

func criClients(t testing.TB) (runtimeapi.RuntimeServiceClient, runtimeapi.ImageServiceClient) {
	t.Helper()
	if criConn == nil {
		conn, err := grpc.NewClient("unix://"+containerdSock(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatalf("grpc: %v", err)
		}
		criConn = conn
	}
	return runtimeapi.NewRuntimeServiceClient(criConn), runtimeapi.NewImageServiceClient(criConn)
}

func criCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// criTeardown stops and removes every pod left, as the kubelet would.
func criTeardown() {
	if criConn == nil {
		return
	}
	defer criConn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(criConn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pods, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id})
		rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id})
	}
	removePodCgroup()
}

// removePodCgroup removes the pod's cgroup parent in every hierarchy, as
// the kubelet does; it fails while a container cgroup is left below.
func removePodCgroup() error {
	for h := range cgroupHierarchies() {
		d := filepath.Join(h, cgroupParent, "cri", "mrc-pod")
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			ents, _ := os.ReadDir(d)
			var left []string
			for _, e := range ents {
				if e.IsDir() {
					left = append(left, e.Name())
				}
			}
			return fmt.Errorf("pod cgroup %s: %v (left: %v)", d, err, left)
		}
	}
	return nil
}

func TestCRI(t *testing.T) {
	const c = "cri"
	t.Run("setup", func(t *testing.T) {
		t.Cleanup(func() {
			if t.Failed() {
				record(c, false)
			}
		})
		needContainerd(t)
	})
	if containerdErr != nil || containerd == nil {
		t.FailNow()
	}
	rt, is := criClients(t)
	logDir := filepath.Join(world, "cri", "pods", "mrc-pod")
	os.MkdirAll(logDir, 0o755)
	podCfg := &runtimeapi.PodSandboxConfig{
		// No hostname: the kubelet sets none for a host-network pod
		// (which keeps the node's UTS namespace).
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "mrc-pod", Uid: "mrc-pod-uid", Namespace: "default"},
		LogDirectory: logDir,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: cgroupParent + "/cri/mrc-pod",
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
			},
		},
	}
	var podID, ctrID string
	need := func(t *testing.T, ids ...string) {
		for _, id := range ids {
			if id == "" {
				t.Fatal("an earlier step failed")
			}
		}
	}

	scenario(t, c, "version-image", func(t *testing.T) {
		v, err := rt.Version(criCtx(t), &runtimeapi.VersionRequest{})
		if err != nil || v.RuntimeName != "containerd" {
			t.Fatalf("version: %v %v", v, err)
		}
		// The CRI plugin learns of the images imported with ctr.
		var st *runtimeapi.ImageStatusResponse
		if !poll(20*time.Second, func() bool {
			st, err = is.ImageStatus(criCtx(t), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: imageRef}})
			return err == nil && st.Image != nil
		}) {
			t.Fatalf("image %s: %v %v", imageRef, st, err)
		}
	})
	scenario(t, c, "run-pod-sandbox", func(t *testing.T) {
		r, err := rt.RunPodSandbox(criCtx(t), &runtimeapi.RunPodSandboxRequest{Config: podCfg, RuntimeHandler: "minirunc"})
		if err != nil {
			t.Fatalf("RunPodSandbox: %v", err)
		}
		st, err := rt.PodSandboxStatus(criCtx(t), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: r.PodSandboxId})
		if err != nil || st.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY || st.Status.RuntimeHandler != "minirunc" {
			t.Fatalf("PodSandboxStatus: %v %v", st, err)
		}
		podID = r.PodSandboxId
		// The sandbox's pause container is the runtime's: its state
		// is in the shim's root for the k8s.io namespace.
		expect(t, command(t, 30*time.Second, nil, nil, runtimeBin, "--root", "/run/containerd/runc/k8s.io", "state", podID), 0, `"status": "running"`)
	})
	scenario(t, c, "create-start-container", func(t *testing.T) {
		need(t, podID)
		cfg := &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "c1"},
			Image:    &runtimeapi.ImageSpec{Image: imageRef},
			Command:  []string{"sh", "-c", "echo hello-log; echo err-log >&2; exec sleep 1000"},
			Envs:     []*runtimeapi.KeyValue{{Key: "GREETING", Value: []byte("from-cri")}},
			LogPath:  "c1.log",
			Linux: &runtimeapi.LinuxContainerConfig{
				Resources: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 64 << 20, CpuPeriod: 100000, CpuQuota: 50000},
			},
		}
		r, err := rt.CreateContainer(criCtx(t), &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: cfg, SandboxConfig: podCfg})
		if err != nil {
			t.Fatalf("CreateContainer: %v", err)
		}
		if _, err := rt.StartContainer(criCtx(t), &runtimeapi.StartContainerRequest{ContainerId: r.ContainerId}); err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		st, err := rt.ContainerStatus(criCtx(t), &runtimeapi.ContainerStatusRequest{ContainerId: r.ContainerId})
		if err != nil || st.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Fatalf("ContainerStatus: %v %v", st, err)
		}
		ctrID = r.ContainerId
		expect(t, command(t, 30*time.Second, nil, nil, runtimeBin, "--root", "/run/containerd/runc/k8s.io", "state", ctrID), 0, `"status": "running"`)
	})
	scenario(t, c, "exec-sync", func(t *testing.T) {
		need(t, ctrID)
		r, err := rt.ExecSync(criCtx(t), &runtimeapi.ExecSyncRequest{ContainerId: ctrID, Timeout: 20,
			Cmd: []string{"sh", "-c", `echo "$GREETING $(hostname)"; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us; echo oops >&2; exit 3`}})
		if err != nil {
			t.Fatalf("ExecSync: %v", err)
		}
		// Host network: the pod has the node's hostname.
		host, _ := os.Hostname()
		if want := "from-cri " + host + "\n67108864\n50000\n"; string(r.Stdout) != want || string(r.Stderr) != "oops\n" || r.ExitCode != 3 {
			t.Fatalf("ExecSync: stdout %q stderr %q exit %d; want stdout %q", r.Stdout, r.Stderr, r.ExitCode, want)
		}
	})
	scenario(t, c, "container-logs", func(t *testing.T) {
		need(t, ctrID)
		p := filepath.Join(logDir, "c1.log")
		rx := regexp.MustCompile(`(?m)^\S+ stdout F hello-log$`)
		rxe := regexp.MustCompile(`(?m)^\S+ stderr F err-log$`)
		var b []byte
		if !poll(20*time.Second, func() bool {
			b, _ = os.ReadFile(p)
			return rx.Match(b) && rxe.Match(b)
		}) {
			t.Fatalf("log %s: %q", p, b)
		}
	})
	scenario(t, c, "container-stats", func(t *testing.T) {
		need(t, ctrID)
		r, err := rt.ContainerStats(criCtx(t), &runtimeapi.ContainerStatsRequest{ContainerId: ctrID})
		if err != nil || r.Stats == nil || r.Stats.Memory == nil || r.Stats.Memory.WorkingSetBytes == nil {
			t.Fatalf("ContainerStats: %v %v", r, err)
		}
	})
	scenario(t, c, "start-error", func(t *testing.T) {
		need(t, podID)
		cfg := &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "bad"},
			Image:    &runtimeapi.ImageSpec{Image: imageRef},
			Command:  []string{"/nonexistent"},
			LogPath:  "bad.log",
		}
		r, err := rt.CreateContainer(criCtx(t), &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: cfg, SandboxConfig: podCfg})
		if err != nil {
			t.Fatalf("CreateContainer: %v", err)
		}
		defer rt.RemoveContainer(criCtx(t), &runtimeapi.RemoveContainerRequest{ContainerId: r.ContainerId})
		_, err = rt.StartContainer(criCtx(t), &runtimeapi.StartContainerRequest{ContainerId: r.ContainerId})
		if err == nil || !strings.Contains(err.Error(), `exec: "/nonexistent": stat /nonexistent: no such file or directory`) {
			t.Fatalf("StartContainer of a missing command: %v; want the runtime's message", err)
		}
	})
	scenario(t, c, "stop-remove", func(t *testing.T) {
		need(t, podID, ctrID)
		start := time.Now()
		if _, err := rt.StopContainer(criCtx(t), &runtimeapi.StopContainerRequest{ContainerId: ctrID, Timeout: 1}); err != nil {
			t.Fatalf("StopContainer: %v", err)
		}
		st, err := rt.ContainerStatus(criCtx(t), &runtimeapi.ContainerStatusRequest{ContainerId: ctrID})
		// The pod shares one pid namespace (the pause process is its
		// PID 1), so sleep dies of the TERM: 143.
		if err != nil || st.Status.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.Status.ExitCode != 143 {
			t.Fatalf("ContainerStatus after stop (%v): %v %v", time.Since(start), st, err)
		}
		if _, err := rt.RemoveContainer(criCtx(t), &runtimeapi.RemoveContainerRequest{ContainerId: ctrID}); err != nil {
			t.Fatalf("RemoveContainer: %v", err)
		}
		if _, err := rt.StopPodSandbox(criCtx(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
			t.Fatalf("StopPodSandbox: %v", err)
		}
		if _, err := rt.RemovePodSandbox(criCtx(t), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
			t.Fatalf("RemovePodSandbox: %v", err)
		}
		l, err := rt.ListContainers(criCtx(t), &runtimeapi.ListContainersRequest{})
		if err != nil || len(l.Containers) != 0 {
			t.Fatalf("containers left: %v %v", l, err)
		}
		p, err := rt.ListPodSandbox(criCtx(t), &runtimeapi.ListPodSandboxRequest{})
		if err != nil || len(p.Items) != 0 {
			t.Fatalf("pods left: %v %v", p, err)
		}
		// The kubelet removes the pod's cgroup; the runtime removed the
		// containers' cgroups below it.
		if err := removePodCgroup(); err != nil {
			t.Fatal(err)
		}
		// No container's state is left in the shim's root (dot names
		// are the runtime's own, never a container id).
		ents, _ := os.ReadDir("/run/containerd/runc/k8s.io")
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), ".") {
				t.Errorf("runtime state left: %s", e.Name())
			}
		}
	})
}
