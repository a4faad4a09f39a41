package container

import (
	"errors"
	"fmt"

	"github.com/minirunc/minirunc/cgroup"
	"github.com/minirunc/minirunc/freezer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrNotPaused is resume's error for a container that is not paused.
var ErrNotPaused = errors.New("container not paused")

// Pause freezes every process of a running (or created) container, as
// runc does. The caller holds the exclusive lock.
func (c *Container) Pause() error {
	switch st := c.Status(); st {
	case Running, Created:
	case Paused:
		return errors.New("container already paused")
	default:
		return ErrNotRunning
	}
	if err := freezer.Freeze(c.State.CgroupDirs); err != nil {
		return fmt.Errorf("pause %s: %w", c.State.ID, err)
	}
	return nil
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if c.Status() != Paused {
		return ErrNotPaused
	}
	if err := freezer.Thaw(c.State.CgroupDirs); err != nil {
		return fmt.Errorf("resume %s: %w", c.State.ID, err)
	}
	return nil
}

// Update changes the limits of a live container: upd as runc's update
// reads it (0 leaves a value unchanged). The merged resources are
// recorded in the state, so the next update and `events` start from
// them. The caller holds the exclusive lock.
func (c *Container) Update(upd *specs.LinuxResources) error {
	if c.Status() == Stopped {
		return ErrNotRunning
	}
	spec := c.Spec()
	if spec == nil || spec.Linux == nil {
		return errors.New("state has no linux config to update")
	}
	merged, err := cgroup.Update(c.State.CgroupDirs, spec.Linux.Resources, upd)
	if err != nil {
		return err
	}
	merged.Devices = nil
	if spec.Linux.Resources != nil {
		merged.Devices = spec.Linux.Resources.Devices
	}
	spec.Linux.Resources = merged
	return c.save()
}

// Resources is the container's current resources (the spec's, as last
// updated).
func (c *Container) Resources() *specs.LinuxResources {
	if c.Spec().Linux == nil {
		return nil
	}
	return c.Spec().Linux.Resources
}

// Stats reads the container's usage from its cgroups.
func (c *Container) Stats() (*cgroup.Stats, error) {
	return cgroup.GetStats(c.State.CgroupDirs)
}
