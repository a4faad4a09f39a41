// Package specconv owns the OCI spec on its way in: it loads config.json from a
// bundle, checks every field the runtime acts on (so that a mistake is reported
// once, before anything is created, naming the field), and holds the tables of
// what minirunc understands (namespaces, capabilities, rlimits) and the default
// spec that `minirunc spec` prints.
package specconv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Bundle is a loaded and validated bundle.
type Bundle struct {
	Dir    string      // absolute bundle directory
	Rootfs string      // absolute rootfs path
	Spec   *specs.Spec // the validated spec
	Raw    []byte      // config.json as read: Spec encoded, without encoding it again
}

// idPattern is what ValidateID accepts, checked by hand: a regexp
// compiled at every start of every command cost more than the check.
const idPattern = `^[A-Za-z0-9][A-Za-z0-9_.+-]*$`

func validIDChars(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '_' && c != '.' && c != '+' && c != '-')) {
			return false
		}
	}
	return id != ""
}

// ValidateID checks a container ID before any path is built from it.
func ValidateID(id string) error {
	if id == "" {
		return errors.New("container id cannot be empty")
	}
	if len(id) > 1024 || !validIDChars(id) || id == "." || id == ".." {
		return fmt.Errorf("invalid container id %q: must match %s", id, idPattern)
	}
	return nil
}

// LoadBundle reads and validates <dir>/config.json.
func LoadBundle(dir string) (*Bundle, error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle %q: %w", dir, err)
	}
	if st, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("bundle %s does not exist", abs)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("bundle %s is not a directory", abs)
	}
	data, err := os.ReadFile(filepath.Join(abs, "config.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("bundle %s has no config.json", abs)
		}
		return nil, fmt.Errorf("config.json: %w", err)
	}
	spec, err := ParseSpec(data)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Dir: abs, Spec: spec, Raw: data}
	if err := b.validate(); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return b, nil
}

// ParseSpec decodes config.json, reporting the position of a syntax error.
func ParseSpec(data []byte) (*specs.Spec, error) {
	var spec specs.Spec
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&spec); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line, col := position(data, se.Offset)
			return nil, fmt.Errorf("config.json: invalid JSON at line %d, column %d: %v", line, col, se)
		case errors.As(err, &te) && te.Field == "":
			return nil, fmt.Errorf("config.json: must hold a JSON object, not %s", te.Value)
		case errors.As(err, &te):
			return nil, fmt.Errorf("config.json: %s: cannot use JSON %s as %s", te.Field, te.Value, te.Type)
		case errors.Is(err, io.ErrUnexpectedEOF):
			line, col := position(data, int64(len(data)))
			return nil, fmt.Errorf("config.json: invalid JSON at line %d, column %d: unexpected end of the file", line, col)
		}
		return nil, fmt.Errorf("config.json: invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("config.json: invalid JSON: trailing data after the object")
	}
	return &spec, nil
}

func position(data []byte, off int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < off && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
