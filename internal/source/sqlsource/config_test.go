package sqlsource

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

func TestResolveURI(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string // driver host port db user password tls timeout
	}{
		{Config{URI: "postgres://alice:pw@db.example:6543/ledger?sslmode=require"}, "postgres db.example 6543 ledger alice pw require 10s"},
		{Config{URI: "postgresql://db.example/ledger"}, "postgres db.example 5432 ledger   prefer 10s"},
		{Config{URI: "mysql://bob:p%40ss@10.0.0.5/shop?tls=skip-verify&connect_timeout=3"}, "mysql 10.0.0.5 3306 shop bob p@ss require 3s"},
		{Config{URI: "mariadb://bob@[::1]:3307/shop"}, "mysql ::1 3307 shop bob  prefer 10s"},
		// Fields override the URI; the password typically comes from a Secret.
		{Config{URI: "postgres://alice@db.example/ledger?sslmode=disable", Password: "fromsecret", TLS: TLSVerifyFull, Database: "other"},
			"postgres db.example 5432 other alice fromsecret verify-full 10s"},
		{Config{URI: "postgres:///ledger?host=/var/run/postgresql"}, "postgres /var/run/postgresql 5432 ledger   prefer 10s"},
		{Config{Driver: MySQL, Host: "/run/mysqld/mysqld.sock", User: "u"}, "mysql /run/mysqld/mysqld.sock 3306  u  prefer 10s"},
	} {
		r, err := resolve(c.cfg)
		if err != nil {
			t.Errorf("%+v: %v", c.cfg, err)
			continue
		}
		got := fmt.Sprintf("%s %s %d %s %s %s %s %s", r.Driver, r.Host, r.Port, r.Database, r.User, r.Password, r.TLS, r.ConnectTimeout)
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.cfg.URI, got, c.want)
		}
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "no driver"},
		{Config{URI: "mysql://u:topsecret@h/db?sslmode=nope"}, "unknown TLS mode"},
		{Config{URI: "mysql://u:topsecret@h/db?charset=latin1"}, `unknown parameter "charset"`},
		{Config{URI: "postgres://u:topsecret@h:99x/db"}, "invalid URI postgres://h:99x/db"},
		{Config{URI: "postgres://u:topsecret@h/db", Driver: MySQL}, "is postgres but Driver is mysql"},
		{Config{Driver: Postgres, TimeZone: "Mars/Olympus"}, "time zone"},
		{Config{Driver: Postgres, TLS: "maybe"}, "unknown TLS mode"},
	} {
		_, err := resolve(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%+v: %v, want an error with %q", c.cfg, err, c.want)
		}
	}
}

func TestCheckDataset(t *testing.T) {
	for _, c := range []struct {
		cfg   Config
		parts []string
		err   string
	}{
		{Config{Driver: Postgres, Table: "Ledger.Entries"}, []string{"ledger", "entries"}, ""},
		{Config{Driver: Postgres, Table: `"Ledger"."My.Table"`}, []string{"Ledger", "My.Table"}, ""},
		{Config{Driver: MySQL, Table: "Shop.`Order``s`"}, []string{"Shop", "Order`s"}, ""},
		{Config{Driver: Postgres, Table: "db.schema.t"}, []string{"db", "schema", "t"}, ""},
		{Config{Driver: MySQL, Table: "a.b.c"}, nil, "want table or schema.table"},
		{Config{Driver: Postgres, Table: `"unterminated`}, nil, "unterminated quote"},
		{Config{Driver: Postgres, Table: "a..b"}, nil, "empty name part"},
		{Config{Driver: Postgres}, nil, "set Table or Query"},
		{Config{Driver: Postgres, Table: "t", Query: "SELECT 1"}, nil, "not both"},
		{Config{Driver: Postgres, Table: "t", Ordered: true}, nil, "Ordered needs Keys"},
		{Config{Driver: Postgres, Table: "t", Keys: []string{"a", "a"}}, nil, `key column "a" twice`},
		{Config{Driver: Postgres, Table: "t", Keys: []string{"a"}, KeyTypes: []diff.Type{"", ""}}, nil, "2 key types for 1 keys"},
	} {
		r, err := resolve(c.cfg)
		if err == nil {
			err = r.checkDataset()
		}
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%+v: %v", c.cfg, err)
		case c.err == "" && !reflect.DeepEqual(r.tableParts, c.parts):
			t.Errorf("%+v: parts %q, want %q", c.cfg, r.tableParts, c.parts)
		}
	}
	r, _ := resolve(Config{Driver: Postgres, Query: "  SELECT 1 ;; "})
	if err := r.checkDataset(); err != nil || r.Query != "SELECT 1" {
		t.Errorf("query %q %v", r.Query, err)
	}
}

func TestAppendCell(t *testing.T) {
	zurich, _ := time.LoadLocation("Europe/Zurich")
	for _, c := range []struct {
		raw  string
		r    render
		loc  *time.Location
		want string
	}{
		{"t", rPGBool, nil, "true"}, {"f", rPGBool, nil, "false"},
		{"1", rTinyBool, nil, "true"}, {"0", rTinyBool, nil, "false"}, {"7", rTinyBool, nil, "7"},
		{"\x01", rBitBool, nil, "true"}, {"\x00", rBitBool, nil, "false"}, {"\x01\x00", rBitInt, nil, "256"},
		{"\xff\xff\xff\xff\xff\xff\xff\xff\xff", rBitInt, nil, "4722366482869645213695"},
		{"0.1", rFloat64, nil, "0.1"}, {"1e+21", rFloat64, nil, "1000000000000000000000"}, {"-0", rFloat64, nil, "0"},
		{"1.5e-07", rFloat64, nil, "0.00000015"}, {"NaN", rFloat64, nil, "NaN"}, {"Infinity", rFloat64, nil, "Infinity"},
		{"-inf", rFloat64, nil, "-inf"}, {"0.1", rFloat32, nil, "0.1"}, {"3.4028235e+38", rFloat32, nil, "340282350000000000000000000000000000000"},
		{"2026-03-01 09:00:00+00", rTimestampZ, nil, "2026-03-01T09:00:00Z"},
		{"2026-03-01 09:00:00.120+05:30", rTimestampZ, nil, "2026-03-01T03:30:00.12Z"},
		{"1900-01-01 00:00:00+00:09:21", rTimestampZ, nil, "1899-12-31T23:50:39Z"},
		{"2026-03-01 09:00:00", rTimestampZ, nil, "2026-03-01 09:00:00"}, // no offset: not this render's form
		{"infinity", rTimestampZ, nil, "infinity"},
		{"2026-03-01 09:00:00 BC", rTimestampL, time.UTC, "2026-03-01 09:00:00 BC"},
		{"2026-02-30 09:00:00", rTimestampL, time.UTC, "2026-02-30 09:00:00"},
		{"0000-00-00 00:00:00", rTimestampL, time.UTC, "0000-00-00 00:00:00"},
		{"2026-07-01 09:00:00.000001", rTimestampL, zurich, "2026-07-01T07:00:00.000001Z"},
		{"2026-01-01 09:00:00.000000", rTimestampL, zurich, "2026-01-01T08:00:00Z"},
		{`\x00ff`, rPGHex, nil, "00ff"}, {"\x00\xff", rHex, nil, "00ff"},
		{"as is", rText, nil, "as is"},
	} {
		got := string(appendCell(nil, []byte(c.raw), c.r, c.loc))
		if got != c.want {
			t.Errorf("appendCell(%q, %d) = %q, want %q", c.raw, c.r, got, c.want)
		}
	}
}
