package probe_test

import (
	"reflect"
	"testing"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/probe"
)

func col(name string, t chv1.ColumnType, native string) chv1.DiscoveredColumn {
	return chv1.DiscoveredColumn{Name: name, Type: t, NativeType: native}
}

func TestCompare(t *testing.T) {
	baseline := []chv1.DiscoveredColumn{
		col("id", chv1.ColumnInteger, "bigint"),
		col("amount", chv1.ColumnDecimal, "numeric(12,2)"),
		col("qty", chv1.ColumnInteger, "integer"),
		col("memo", chv1.ColumnString, "text"),
	}
	spec := &chv1.DataSourceSpec{Type: chv1.DataSourcePostgreSQL, KeyColumns: []string{"id"},
		Columns: []chv1.ColumnSpec{{Name: "amount", Type: chv1.ColumnDecimal}, {Name: "flag", Type: chv1.ColumnBoolean}}}

	for _, tc := range []struct {
		name       string
		discovered []chv1.DiscoveredColumn
		spec       *chv1.DataSourceSpec
		baseline   []chv1.DiscoveredColumn
		want       probe.Drift
		msg        string
	}{{
		name:       "none",
		discovered: append(baseline, col("flag", chv1.ColumnBoolean, "boolean")),
		spec:       spec,
		baseline:   append(baseline, col("flag", chv1.ColumnBoolean, "boolean")),
	}, {
		name: "added removed retyped",
		discovered: []chv1.DiscoveredColumn{
			col("id", chv1.ColumnInteger, "bigint"),
			col("qty", chv1.ColumnString, "text"),
			col("memo", chv1.ColumnString, "text"),
			col("note", chv1.ColumnString, "character varying(20)"),
			col("flag", chv1.ColumnBoolean, "boolean"),
		},
		spec:     spec,
		baseline: append(baseline, col("flag", chv1.ColumnBoolean, "boolean")),
		want: probe.Drift{
			Added:          []chv1.DiscoveredColumn{col("note", chv1.ColumnString, "character varying(20)")},
			Removed:        []string{"amount"},
			Retyped:        []probe.Retype{{Name: "qty", From: "integer", To: "text"}},
			MissingColumns: []string{"amount"},
		},
		msg: "added columns: note (character varying(20)); removed columns: amount; retyped columns: qty (integer -> text)",
	}, {
		name: "nullability changed",
		discovered: []chv1.DiscoveredColumn{col("id", chv1.ColumnInteger, "bigint"), col("qty", chv1.ColumnInteger, "integer"),
			{Name: "memo", Type: chv1.ColumnString, NativeType: "text", Nullable: true}, col("amount", chv1.ColumnDecimal, "numeric(12,2)"),
			col("flag", chv1.ColumnBoolean, "boolean")},
		spec:     spec,
		baseline: append(baseline, col("flag", chv1.ColumnBoolean, "boolean")),
		want:     probe.Drift{Retyped: []probe.Retype{{Name: "memo", From: "text not null", To: "text"}}},
		msg:      "retyped columns: memo (text not null -> text)",
	}, {
		name:       "declared only: key and declared column missing, incompatible type",
		discovered: []chv1.DiscoveredColumn{col("amount", chv1.ColumnTimestamp, "timestamp"), col("flag", chv1.ColumnString, "text")},
		spec:       spec,
		want: probe.Drift{
			Removed:     []string{"id"},
			Retyped:     []probe.Retype{{Name: "amount", From: "declared Decimal", To: "timestamp"}},
			MissingKeys: []string{"id"},
		},
		msg: "removed columns: id; retyped columns: amount (declared Decimal -> timestamp)",
	}, {
		name:       "field paths in JSON Lines",
		discovered: []chv1.DiscoveredColumn{col("payload", chv1.ColumnString, "json field")},
		spec: &chv1.DataSourceSpec{Type: chv1.DataSourceFile, File: &chv1.FileSource{URL: "file:///x.jsonl"},
			KeyColumns: []string{"payload.id", "meta.seq"}},
		want: probe.Drift{Removed: []string{"meta.seq"}, MissingKeys: []string{"meta.seq"}},
		msg:  "removed columns: meta.seq",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := probe.Compare(tc.discovered, tc.spec, tc.baseline)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("drift:\n got  %+v\n want %+v", got, tc.want)
			}
			if got.Message() != tc.msg || got.Empty() != (tc.msg == "") {
				t.Errorf("message %q (empty %v), want %q", got.Message(), got.Empty(), tc.msg)
			}
		})
	}
}

func TestCompatible(t *testing.T) {
	for _, tc := range []struct {
		declared, have chv1.ColumnType
		ok             bool
	}{
		{chv1.ColumnString, chv1.ColumnJSON, true},
		{chv1.ColumnDecimal, chv1.ColumnString, true},
		{chv1.ColumnDecimal, chv1.ColumnInteger, true},
		{chv1.ColumnInteger, chv1.ColumnDecimal, false},
		{chv1.ColumnTimestamp, chv1.ColumnDate, true},
		{chv1.ColumnDate, chv1.ColumnTimestamp, false},
		{chv1.ColumnBoolean, chv1.ColumnInteger, false},
	} {
		if got := probe.Compatible(tc.declared, tc.have); got != tc.ok {
			t.Errorf("Compatible(%s, %s) = %v, want %v", tc.declared, tc.have, got, tc.ok)
		}
	}
}
