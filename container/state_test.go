package container

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/minirunc/minirunc/syncpipe"
)

func sampleState() State {
	yes := true
	return State{
		OCIVersion: "1.2.0", ID: "c1", Status: Running, Pid: 42, Bundle: "/b", Rootfs: "/b/rootfs",
		Created: time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC), Owner: "root",
		Annotations: map[string]string{"config": `x","config":{`, "a": "b"}, InitStartTime: 7,
		CgroupDirs: []string{"/sys/fs/cgroup/pids/x"}, NoNewKeyring: true, OwnPidNS: true, Hooks: &yes,
	}
}

// Every member but config survives decodeState, whichever way save wrote
// the file, and config() then finds the spec. A field added after Config
// in State would be lost here: Config must stay last.
func TestDecodeStateRoundTrip(t *testing.T) {
	config := []byte(`{"ociVersion":"1.2.0","process":{"args":["sh"],"cwd":"/"},"annotations":{"config":"y"}}`)
	want := sampleState()
	plain := want
	plain.Config = config
	marshaled, err := json.Marshal(&plain) // how earlier versions wrote it
	if err != nil {
		t.Fatal(err)
	}
	bare, err := json.Marshal(&want)
	if err != nil {
		t.Fatal(err)
	}
	spliced := syncpipe.WithRawField(bare, "config", append(append([]byte{}, config...), '\n')) // how save writes it
	for name, data := range map[string][]byte{"marshaled": marshaled, "spliced": spliced, "no config": bare} {
		var got State
		if err := decodeState(data, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Config != nil {
			t.Errorf("%s: config decoded: %s", name, got.Config)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded %+v, want %+v", name, got, want)
		}
		c := &Container{State: got, data: data}
		if name == "no config" {
			if len(c.config()) != 0 {
				t.Errorf("%s: config() = %s", name, c.config())
			}
			continue
		}
		if p := c.ProcessSpec().Process; p == nil || p.Cwd != "/" || p.Args[0] != "sh" {
			t.Errorf("%s: process from config() = %+v", name, p)
		}
	}
}

// A damaged file is an error, as json.Unmarshal's.
func TestDecodeStateCorrupt(t *testing.T) {
	for _, data := range []string{``, `{`, `{"id":`, `{"id":"x",`, `[1]`, `{"id":"x","config":{"a":`} {
		var st State
		err := decodeState([]byte(data), &st)
		if data == `{"id":"x","config":{"a":` {
			// Up to config it is whole: the members before it decode.
			if err != nil || st.ID != "x" {
				t.Errorf("%q: %v, id %q", data, err, st.ID)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q: no error", data)
		}
	}
}

// decodeState cuts at the first top-level `,"config":`: whatever the
// annotations (keys and values are the only free text before config) and
// the spec hold, it decodes what json.Unmarshal decodes, without config.
func FuzzDecodeState(f *testing.F) {
	f.Add("config", `x","config":{`, `{"annotations":{"config":"y"}}`)
	f.Add(`,"config":`, "}", `{"a":{"config":{"config":1}}}`)
	f.Add("a", "b", `{}`)
	f.Fuzz(func(t *testing.T, key, value, config string) {
		want := sampleState()
		want.Annotations = map[string]string{key: value, "config": key}
		bare, err := json.Marshal(&want)
		if err != nil {
			t.Skip()
		}
		want = State{} // as the file gives it back (invalid UTF-8 replaced)
		if err := json.Unmarshal(bare, &want); err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if json.Unmarshal([]byte(config), &obj) != nil {
			config = `{}`
		}
		data := syncpipe.WithRawField(bare, "config", []byte(config))
		var got State
		if err := decodeState(data, &got); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		if got.Config != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: decoded %+v, want %+v", data, got, want)
		}
	})
}
