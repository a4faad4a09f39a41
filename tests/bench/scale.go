package main

import (
	"fmt"
	"sync"
	"time"
)

// The scale phases, in report order: ms for -scale-n containers.
const (
	seqUp   = "seq up"
	seqDown = "seq down"
	seqBoth = "seq up+down"
	parUp   = "par up"
	parDown = "par down"
	parBoth = "par up+down"
)

var scalePhases = []string{seqUp, seqDown, seqBoth, parUp, parDown, parBoth}

// scaleRound brings -scale-n sleep containers (each its own bundle, id and
// cgroup) up with create+start and down with delete --force, for every
// runtime, first one at a time and then -parallel at a time. The runtime
// order rotates from round to round.
func (b *bench) scaleRound(s int) error {
	for _, par := range []bool{false, true} {
		workers, mode := 1, "s"
		if par {
			workers, mode = *parallel, "p"
		}
		for i := range b.rts {
			rt := b.rts[(i+s)%len(b.rts)]
			ids := make([]string, *scaleN)
			bundles := map[string]string{}
			for j := range ids {
				ids[j] = fmt.Sprintf("%s-%s%d-%02d", rt.name, mode, s, j)
				bdir, err := b.bundle(ids[j], true, "/bin/sleep", "1000")
				if err != nil {
					return err
				}
				bundles[ids[j]] = bdir
			}
			t0 := time.Now()
			err := forEach(ids, workers, func(id string) error {
				if _, err := timed(false, rt.path, "--root", rt.rootScale, "create", "--bundle", bundles[id], id); err != nil {
					return err
				}
				_, err := timed(false, rt.path, "--root", rt.rootScale, "start", id)
				return err
			})
			up := ms(time.Since(t0))
			if err != nil {
				return fmt.Errorf("%s: scale up: %w", rt.name, err)
			}
			t1 := time.Now()
			err = forEach(ids, workers, func(id string) error {
				_, err := timed(false, rt.path, "--root", rt.rootScale, "delete", "--force", id)
				return err
			})
			down := ms(time.Since(t1))
			if err != nil {
				return fmt.Errorf("%s: scale down: %w", rt.name, err)
			}
			reapAll()
			names := [3]string{seqUp, seqDown, seqBoth}
			if par {
				names = [3]string{parUp, parDown, parBoth}
			}
			rt.scale[names[0]] = append(rt.scale[names[0]], up)
			rt.scale[names[1]] = append(rt.scale[names[1]], down)
			rt.scale[names[2]] = append(rt.scale[names[2]], up+down)
		}
	}
	return nil
}

// forEach calls fn for every id with that many workers, and returns the
// first error; it stops handing out ids after an error or a signal.
func forEach(ids []string, workers int, fn func(id string) error) error {
	if workers < 1 {
		workers = 1
	}
	var (
		mu       sync.Mutex
		firstErr error
		next     int
		wg       sync.WaitGroup
	)
	take := func() (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = interrupted()
		}
		if firstErr != nil || next >= len(ids) {
			return "", false
		}
		next++
		return ids[next-1], true
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id, ok := take()
				if !ok {
					return
				}
				if err := fn(id); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}
