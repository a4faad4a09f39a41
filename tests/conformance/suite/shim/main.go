// Command shim stands between the validation programs and minirunc. It
// records every container id a program creates (so the runner can clean up
// after a crashed or timed-out program) and, when the runner asks for it,
// makes a relative or empty linux.cgroupsPath absolute before create: with a
// relative path the container would nest under the runner's own cgroup,
// which on this kind of machine belongs to another process's manager.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	runtime := os.Getenv("MINIRUNC_OCI_RUNTIME")
	if runtime == "" {
		fmt.Fprintln(os.Stderr, "shim: MINIRUNC_OCI_RUNTIME is not set")
		os.Exit(127)
	}
	args := os.Args[1:]
	if len(args) > 0 && (args[0] == "create" || args[0] == "run") {
		onCreate(args[1:])
	}
	err := syscall.Exec(runtime, append([]string{runtime}, args...), os.Environ())
	fmt.Fprintf(os.Stderr, "shim: exec %s: %v\n", runtime, err)
	os.Exit(127)
}

// onCreate finds the bundle and id among create's arguments.
func onCreate(args []string) {
	bundle, id := ".", ""
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--bundle" || a == "-b":
			if i+1 < len(args) {
				i++
				bundle = args[i]
			}
		case strings.HasPrefix(a, "--bundle="):
			bundle = strings.TrimPrefix(a, "--bundle=")
		case a == "--pid-file" || a == "--console-socket" || a == "--preserve-fds":
			i++
		case !strings.HasPrefix(a, "-"):
			id = a
		}
	}
	if id == "" {
		return
	}
	if f := os.Getenv("MINIRUNC_OCI_IDS"); f != "" {
		if fh, err := os.OpenFile(f, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(fh, id)
			fh.Close()
		}
	}
	if os.Getenv("MINIRUNC_OCI_CGROUP_GUARD") == "1" {
		absoluteCgroupsPath(filepath.Join(bundle, "config.json"), id)
	}
}

func absoluteCgroupsPath(path, id string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var cfg map[string]any
	if json.Unmarshal(data, &cfg) != nil {
		return
	}
	linux, ok := cfg["linux"].(map[string]any)
	if !ok {
		return
	}
	cp, _ := linux["cgroupsPath"].(string)
	switch {
	case strings.HasPrefix(cp, "/") || strings.Contains(cp, ":"):
		return
	case cp == "":
		linux["cgroupsPath"] = "/" + id
	default:
		linux["cgroupsPath"] = "/" + cp
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		return
	}
	st, err := os.Stat(path)
	if err != nil {
		return
	}
	_ = os.WriteFile(path, out, st.Mode().Perm())
}
