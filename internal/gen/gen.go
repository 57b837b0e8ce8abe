package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// Manifest describes a generated pair; Generate writes it as manifest.json.
type Manifest struct {
	Config  Config   `json:"config"`
	Columns []string `json:"columns"`
	Keys    []string `json:"keys"`
	Source  FileInfo `json:"source"`
	Target  FileInfo `json:"target"`
	// Spec is the comparison expected.json assumes, in the JSON form of diff.Spec:
	// json.Unmarshal it into a diff.Spec.
	Spec    Spec         `json:"spec"`
	Summary diff.Summary `json:"summary"`
	// Discrepancies counts the expected discrepancies by injection kind.
	ByInjection map[string]int `json:"byInjection"`
}

// FileInfo names one generated file.
type FileInfo struct {
	File string `json:"file"` // base name, as positions use it
	Rows int64  `json:"rows"` // data rows (the CSV header not counted)
}

// DiffSpec returns the comparison the manifest records as a diff.Spec, with the mask key
// expected.json's masks were made with (when the manifest came from Run, not a file).
func (m *Manifest) DiffSpec() (diff.Spec, error) {
	var s diff.Spec
	b, err := json.Marshal(m.Spec)
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		return diff.Spec{}, fmt.Errorf("gen: the manifest's spec: %w", err)
	}
	s.MaskKey = m.Config.MaskKey
	return s, nil
}

// Spec mirrors the JSON form of diff.Spec.
type Spec struct {
	Keys    []SpecColumn `json:"keys"`
	Compare []SpecColumn `json:"compare"`
}

// SpecColumn mirrors the JSON form of diff.Column.
type SpecColumn struct {
	Name          string        `json:"name"`
	Type          string        `json:"type,omitempty"`
	AbsTolerance  string        `json:"absTolerance,omitempty"`
	TimeTolerance time.Duration `json:"timeTolerance,omitempty"`
	Sensitive     bool          `json:"sensitive,omitempty"`
}

// Generate writes the source and target files, expected.json and manifest.json
// into cfg.Dir. See Run.
func Generate(cfg Config) error {
	_, err := Run(cfg)
	return err
}

// Run is Generate returning the manifest and the expected outcomes.
func Run(cfg Config) (*Manifest, error) {
	m, _, err := run(cfg)
	return m, err
}

// RunExpected is Run also returning the expected outcomes.
func RunExpected(cfg Config) (*Manifest, *Expected, error) { return run(cfg) }

func run(cfg Config) (*Manifest, *Expected, error) {
	if err := cfg.normalize(); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, nil, err
	}
	g := newGenerator(cfg)
	g.build()
	g.matched = int64(cfg.Rows - len(g.injected))
	for _, e := range g.entities {
		g.evaluate(e)
	}

	names := [2]string{cfg.SourceName, cfg.TargetName}
	var counts [2]int64
	var errs [2]error
	var wg sync.WaitGroup
	for side := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[side], errs[side] = g.writeFile(side, filepath.Join(cfg.Dir, names[side]), names[side])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}

	slices.SortStableFunc(g.ds, compareDiscrepancies)
	exp := &Expected{Summary: g.summarize(), Discrepancies: g.ds}
	if err := writeExpected(filepath.Join(cfg.Dir, "expected.json"), exp); err != nil {
		return nil, nil, err
	}
	m := &Manifest{
		Config:      cfg,
		Columns:     g.cols,
		Keys:        g.cols[:g.nkey],
		Source:      FileInfo{File: names[0], Rows: counts[0]},
		Target:      FileInfo{File: names[1], Rows: counts[1]},
		Spec:        g.spec(),
		Summary:     exp.Summary,
		ByInjection: map[string]int{},
	}
	for _, d := range g.ds {
		m.ByInjection[d.Injection]++
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(cfg.Dir, "manifest.json"), append(b, '\n'), 0o644); err != nil {
		return nil, nil, err
	}
	return m, exp, nil
}

func (g *generator) writeFile(side int, path, name string) (int64, error) {
	out, err := createOut(path, g.cfg.Gzip)
	if err != nil {
		return 0, err
	}
	var s sink
	unit := " line "
	switch g.cfg.Format {
	case source.FormatCSV:
		s = newCSVSink(out, g.cfg.CSVDelimiter, g.cfg.CSVNullMarker)
	case source.FormatJSONL:
		s = &jsonlSink{out: out, number: g.amount}
	case source.FormatParquet:
		s = newParquetSink(out, g.cols)
		unit = " row "
	}
	n, err := g.writeSide(side, s, name, unit)
	if e := s.close(); err == nil {
		err = e
	}
	if err != nil {
		return n, fmt.Errorf("gen: writing %s: %w", path, err)
	}
	return n, nil
}

func (g *generator) spec() Spec {
	var s Spec
	for _, k := range g.cols[:g.nkey] {
		s.Keys = append(s.Keys, SpecColumn{Name: k})
	}
	for k := g.nkey; k < len(g.cols); k++ {
		c := SpecColumn{Name: g.cols[k], Sensitive: slices.Contains(g.cfg.Sensitive, g.cols[k])}
		switch g.types[k] {
		case tDecimal:
			c.Type, c.AbsTolerance = "decimal", g.cfg.AmountTolerance
		case tDate:
			c.Type = "date"
		case tTimestamp:
			c.Type, c.TimeTolerance = "timestamp", g.cfg.BookedAtTolerance
		}
		s.Compare = append(s.Compare, c)
	}
	return s
}

// writeExpected writes expected.json with one discrepancy per line.
func writeExpected(path string, e *Expected) error {
	var b bytes.Buffer
	sum, err := json.Marshal(e.Summary)
	if err != nil {
		return err
	}
	b.WriteString(`{"summary":`)
	b.Write(sum)
	b.WriteString(",\n\"discrepancies\":[")
	for i, d := range e.Discrepancies {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
		j, _ := d.MarshalJSON()
		b.Write(j)
	}
	b.WriteString("\n]}\n")
	return os.WriteFile(path, b.Bytes(), 0o644)
}
