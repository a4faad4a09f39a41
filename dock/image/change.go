package image

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ApplyChange applies one Dockerfile instruction of `import --change` or
// `commit --change` to cfg.
func ApplyChange(cfg *v1.Config, change string) error {
	inst, rest, _ := strings.Cut(strings.TrimSpace(change), " ")
	rest = strings.TrimSpace(rest)
	bad := func() error { return fmt.Errorf("invalid --change %q", change) }
	switch strings.ToUpper(inst) {
	case "CMD":
		cfg.Cmd = cmdForm(rest)
	case "ENTRYPOINT":
		cfg.Entrypoint = cmdForm(rest)
	case "ENV":
		for _, kv := range envPairs(rest) {
			k, _, _ := strings.Cut(kv, "=")
			cfg.Env = setEnv(cfg.Env, k, kv)
		}
	case "WORKDIR":
		if rest == "" {
			return bad()
		}
		cfg.WorkingDir = rest
	case "USER":
		if rest == "" {
			return bad()
		}
		cfg.User = rest
	case "STOPSIGNAL":
		if rest == "" {
			return bad()
		}
		cfg.StopSignal = rest
	case "EXPOSE":
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range strings.Fields(rest) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cfg.ExposedPorts[p] = struct{}{}
		}
	case "VOLUME":
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range cmdForm(rest) {
			cfg.Volumes[v] = struct{}{}
		}
	case "LABEL":
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range envPairs(rest) {
			k, v, _ := strings.Cut(kv, "=")
			cfg.Labels[k] = v
		}
	default:
		return fmt.Errorf("invalid --change %q: unsupported instruction %q", change, inst)
	}
	return nil
}

// cmdForm is the exec form (a JSON array) or the shell form (sh -c).
func cmdForm(s string) []string {
	if strings.HasPrefix(s, "[") {
		var a []string
		if json.Unmarshal([]byte(s), &a) == nil {
			return a
		}
	}
	if s == "" {
		return nil
	}
	return []string{"/bin/sh", "-c", s}
}

// envPairs splits "K=V K2=V2" or the legacy "K V".
func envPairs(s string) []string {
	if !strings.Contains(s, "=") {
		k, v, _ := strings.Cut(s, " ")
		return []string{k + "=" + strings.TrimSpace(v)}
	}
	var out []string
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		out = append(out, k+"="+strings.Trim(v, `"`))
	}
	return out
}

func setEnv(env []string, key, kv string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, key+"=") {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

func maybeGunzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		return gzip.NewReader(br)
	}
	return br, nil
}
