package sqlsource_test

import (
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// The tests run against the real servers testdb starts (one of each per test binary).
func TestMain(m *testing.M) { testdb.Main(m) }
