// Package container holds minidock's containers: their config.v2.json and
// hostconfig.json (Docker's names and fields where they exist), the store
// under <root>/containers with names kept unique, the lock that orders the
// monitor's and the commands' writes, and the lifecycle: create (layers,
// configs), start (through the per-container monitor), stop, kill, pause,
// rm, and the repair of containers whose monitor died.
package container

import (
	"fmt"
	"strings"
	"time"

	"github.com/minirunc/minirunc/dock/fsutil"
	"github.com/minirunc/minirunc/dock/network"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Container is config.v2.json.
type Container struct {
	ID                     string
	Created                time.Time
	Path                   string
	Args                   []string
	Config                 *Config
	State                  State
	Image                  string // the image ID
	Name                   string // "/name", as Docker
	RestartCount           int
	Driver                 string
	MountID                string `json:",omitempty"`
	LogPath                string
	HostnamePath           string
	HostsPath              string
	ResolvConfPath         string
	HasBeenManuallyStopped bool
	ShmPath                string           `json:",omitempty"` // the host dir bound on /dev/shm (--ipc shareable, host)
	NetworkSettings        *NetworkSettings `json:",omitempty"`
}

// Config is the container's merged config (image config and user options).
type Config struct {
	Hostname     string
	Domainname   string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          []string
	Image        string
	Volumes      map[string]struct{} `json:",omitempty"`
	WorkingDir   string
	Entrypoint   []string
	Labels       map[string]string `json:",omitempty"`
	StopSignal   string            `json:",omitempty"`
	StopTimeout  *int              `json:",omitempty"`
}

// State is the container's state.
type State struct {
	Status       string // created, running, paused, restarting, exited, dead
	Running      bool
	Paused       bool
	Restarting   bool
	OOMKilled    bool
	Dead         bool
	Pid          int
	ExitCode     int
	Error        string
	StartedAt    time.Time
	FinishedAt   time.Time
	MonitorPid   int    `json:",omitempty"`
	MonitorStart uint64 `json:",omitempty"`
}

// RestartPolicy is --restart.
type RestartPolicy struct {
	Name              string
	MaximumRetryCount int
}

// HostConfig is hostconfig.json.
type HostConfig struct {
	Binds          []string
	NetworkMode    string
	RestartPolicy  RestartPolicy
	AutoRemove     bool
	CapAdd         []string
	CapDrop        []string
	SecurityOpt    []string
	Tmpfs          map[string]string `json:",omitempty"`
	ReadonlyRootfs bool
	Memory         int64
	MemorySwap     int64
	NanoCpus       int64
	CPUShares      int64 `json:"CpuShares"`
	PidsLimit      *int64
	Sysctls        map[string]string                `json:",omitempty"`
	Ulimits        []Ulimit                         `json:",omitempty"`
	PortBindings   map[string][]network.PortBinding `json:",omitempty"`
	Devices        []DeviceMapping                  `json:",omitempty"`
	Init           bool                             `json:",omitempty"`
	PidMode        string                           `json:",omitempty"` // "", host, container:ID
	IpcMode        string                           `json:",omitempty"` // "", private, shareable, none, host, container:ID
	UTSMode        string                           `json:",omitempty"` // "", host, container:ID
}

// DeviceMapping is --device HOST[:CONTAINER[:PERMS]].
type DeviceMapping struct {
	PathOnHost, PathInContainer, CgroupPermissions string
}

// Ulimit is --ulimit NAME=SOFT[:HARD].
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// Status names shown by ps.
const (
	Created    = "created"
	Running    = "running"
	Paused     = "paused"
	Restarting = "restarting"
	Exited     = "exited"
	Dead       = "dead"
)

// ShortID is the 12-digit ID.
func (c *Container) ShortID() string { return c.ID[:12] }

// DisplayName is the name without its slash.
func (c *Container) DisplayName() string { return strings.TrimPrefix(c.Name, "/") }

// IsActive reports a container whose process runs (or is frozen).
func (c *Container) IsActive() bool {
	return c.State.Status == Running || c.State.Status == Paused || c.State.Status == Restarting
}

// MonitorAlive reports whether the container's monitor is still the
// process that was recorded (a recycled pid is told apart by its start).
func (c *Container) MonitorAlive() bool {
	if c.State.MonitorPid <= 0 {
		return false
	}
	st, err := ProcStart(c.State.MonitorPid)
	return err == nil && st == c.State.MonitorStart
}

// ProcStart is field 22 of /proc/<pid>/stat, the process's start time.
func ProcStart(pid int) (uint64, error) { return fsutil.ProcStart(pid) }

// StatusLine is ps's STATUS column, as Docker words it.
func (c *Container) StatusLine(now time.Time) string {
	switch c.State.Status {
	case Running:
		return "Up " + HumanDuration(now.Sub(c.State.StartedAt))
	case Paused:
		return "Up " + HumanDuration(now.Sub(c.State.StartedAt)) + " (Paused)"
	case Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", c.State.ExitCode, HumanDuration(now.Sub(c.State.FinishedAt)))
	case Exited:
		return fmt.Sprintf("Exited (%d) %s ago", c.State.ExitCode, HumanDuration(now.Sub(c.State.FinishedAt)))
	case Created:
		return "Created"
	}
	return c.State.Status
}

// HumanDuration words a duration as Docker's ps does.
func HumanDuration(d time.Duration) string {
	switch s := int(d.Seconds()); {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	case d.Minutes() < 2:
		return "About a minute"
	case d.Minutes() < 60:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d.Hours() < 2:
		return "About an hour"
	case d.Hours() < 48:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

type specRlimit = specs.POSIXRlimit
