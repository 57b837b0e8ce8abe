package devenv

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"

	"github.com/clearhouse-dev/clearhouse/internal/manager"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// StoreURI is the results store of a dev environment in dir: SQLite, beside the rest
// of its state.
func StoreURI(dir string) string { return "sqlite:" + filepath.Join(dir, "results.db") }

// Manager is the controller manager running in this process.
type Manager struct {
	// Store is the manager's results store (open until the manager stops).
	Store  store.Store
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
}

// StartManager starts the manager as `clearhouse manager` builds it, in-process:
// metrics and probes off (nothing to scrape locally, and no port to collide with),
// no leader election (one replica), runs executed inline with results in the SQLite
// store under dir.
func StartManager(ctx context.Context, cfg *rest.Config, dir string) (*Manager, error) {
	mgr, err := manager.New(cfg, managerOptions(dir))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &Manager{Store: mgr.Store, cancel: cancel, done: make(chan struct{})}
	go func() {
		m.err = mgr.Start(ctx)
		close(m.done)
	}()
	return m, nil
}

// managerOptions: the dev environment's manager keeps its store and spill files in
// dir; the inline executor is its default.
func managerOptions(dir string) manager.Options {
	return manager.Options{MetricsAddr: "0", ProbeAddr: "0", DataDir: dir, StoreURI: StoreURI(dir)}
}

// Done is closed when the manager has stopped (after Stop, or on its own after an
// error it cannot recover from: Err says which).
func (m *Manager) Done() <-chan struct{} { return m.done }

// Err is the manager's error once Done is closed.
func (m *Manager) Err() error {
	<-m.done
	if m.err != nil && !errors.Is(m.err, context.Canceled) {
		return fmt.Errorf("manager: %w", m.err)
	}
	return nil
}

// Stop stops the manager and waits for it (runs in progress are cancelled).
func (m *Manager) Stop(timeout time.Duration) error {
	m.cancel()
	select {
	case <-m.done:
		return m.Err()
	case <-time.After(timeout):
		return fmt.Errorf("manager did not stop within %s", timeout)
	}
}
