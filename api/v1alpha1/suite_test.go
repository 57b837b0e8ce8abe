package v1alpha1_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/testenv"
)

// env is the real kube-apiserver + etcd shared by this package's tests.
var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop test control plane:", err)
	}
	os.Exit(code)
}
