// Package hooks runs the spec's lifecycle hooks: each hook gets the
// container's state JSON on stdin, its own args and env, and is killed when
// its timeout passes. Which hooks run where, and whether a failure stops the
// container, is the caller's business (see the runtime-spec lifecycle).
package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/minirunc/minirunc/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Run runs hooks in order and stops at the first failure. name is the spec
// field ("prestart", ...), used in errors.
func Run(name string, hs []specs.Hook, state *specs.State) error {
	if len(hs) == 0 {
		return nil
	}
	data, err := json.Marshal(state)
	if err != nil {
		return err
	}
	for i, h := range hs {
		if err := runOne(h, data); err != nil {
			return fmt.Errorf("hooks.%s[%d] %s: %w", name, i, h.Path, err)
		}
	}
	return nil
}

// RunAll runs every hook even when some fail, and returns the failures; the
// spec says poststart and poststop failures only warn.
func RunAll(name string, hs []specs.Hook, state *specs.State) []error {
	data, err := json.Marshal(state)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for i, h := range hs {
		if err := runOne(h, data); err != nil {
			errs = append(errs, fmt.Errorf("hooks.%s[%d] %s: %w", name, i, h.Path, err))
		}
	}
	return errs
}

func runOne(h specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = time.Second
	err := nsenter.Run(cmd)
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		if msg := strings.TrimSpace(out.String()); msg != "" {
			if len(msg) > 512 {
				msg = msg[:512] + "..."
			}
			return fmt.Errorf("%w: %s", err, strings.ReplaceAll(msg, "\n", "; "))
		}
		return err
	}
	return nil
}
