package devenv

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// The demo's files, under <dir>/demo/.
const (
	LedgerFile     = "ledger.csv"
	SettlementFile = "settlement.csv"
)

// demoPayments is the number of payments in the ledger.
const demoPayments = 240

// Demo is the generated demo data: a payments ledger (the system of record) and the
// bank's settlement file for the same week, with a handful of planted differences.
type Demo struct {
	Dir            string
	LedgerPath     string
	SettlementPath string
	LedgerRows     int
	SettlementRows int
	// expected is the exact set of discrepancies the demo job must report, sorted
	// like diff.SortDiscrepancies, sensitive values in clear (Expected masks them).
	expected []diff.Discrepancy
	// Matched is how many keys must match (including the planted within-tolerance,
	// other-zone and letter-case cases).
	Matched int64
}

// The planted cases, by payment index. Every other payment settles exactly.
const (
	caseMissingSettlement = 17  // paid out, never settled by the bank → missing_in_target
	caseAmountOff         = 42  // bank settled 5 cents less → mismatch amount (tolerance 0.01)
	caseWithinTolerance   = 63  // bank rounded by one cent → matched
	caseDuplicate         = 88  // bank sent the settlement twice → duplicate_key (target)
	caseOtherZone         = 105 // bank wrote the booking time in CET → same instant, matched
	caseIBAN              = 131 // settled from another account → mismatch iban (masked)
	caseLowerCurrency     = 177 // bank wrote "eur" → matched (ignoreCase)
	// unknownPayment is only in the bank file → missing_in_source.
	unknownPayment = "PAY-2026-009871"
)

type payment struct {
	id, amount, currency, valueDate, bookedAt, iban string
}

// WriteDemo writes the demo ledger and settlement files into dir (created if needed).
// The data is the same on every call: a reader of the README sees the same table.
func WriteDemo(dir string) (*Demo, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create demo data directory: %w", err)
	}
	rng := rand.New(rand.NewPCG(2026, 3)) //nolint:gosec // demo data, not secrets
	currencies := []string{"EUR", "EUR", "EUR", "GBP", "USD"}
	week := time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC) // Monday
	pays := make([]payment, demoPayments)
	for i := range pays {
		booked := week.Add(time.Duration(i/48)*24*time.Hour + time.Duration(rng.IntN(11*3600))*time.Second)
		valueDate := booked
		if booked.Hour() >= 16 { // after the cut-off: settles the next business day
			valueDate = booked.AddDate(0, 0, 1)
		}
		pays[i] = payment{
			id:        fmt.Sprintf("PAY-2026-%06d", 1000+i*7),
			amount:    fmt.Sprintf("%d.%02d", 5+rng.IntN(4995), rng.IntN(100)),
			currency:  currencies[rng.IntN(len(currencies))],
			valueDate: valueDate.Format(time.DateOnly),
			bookedAt:  booked.Format(time.RFC3339),
			iban:      fakeIBAN(rng),
		}
	}
	// Make the amount cases read naturally.
	pays[caseAmountOff].amount = "1250.00"
	pays[caseWithinTolerance].amount = "89.99"
	pays[caseLowerCurrency].currency = "EUR"

	d := &Demo{
		Dir:            dir,
		LedgerPath:     filepath.Join(dir, LedgerFile),
		SettlementPath: filepath.Join(dir, SettlementFile),
	}
	ledger := [][]string{{"payment_id", "amount", "currency", "value_date", "booked_at", "iban"}}
	for _, p := range pays {
		ledger = append(ledger, []string{p.id, p.amount, p.currency, p.valueDate, p.bookedAt, p.iban})
	}

	// The bank file: in settlement order (value date, then booking time), not by id.
	var bank [][]string
	for i, p := range pays {
		b := p
		switch i {
		case caseMissingSettlement:
			continue
		case caseAmountOff:
			b.amount = "1249.95"
		case caseWithinTolerance:
			b.amount = "90.00"
		case caseOtherZone:
			t, _ := time.Parse(time.RFC3339, p.bookedAt)
			b.bookedAt = t.In(time.FixedZone("CET", 3600)).Format(time.RFC3339)
		case caseIBAN:
			b.iban = fakeIBAN(rng)
		case caseLowerCurrency:
			b.currency = "eur"
		}
		row := []string{b.id, b.amount, b.currency, b.valueDate, b.bookedAt, b.iban}
		bank = append(bank, row)
		if i == caseDuplicate {
			bank = append(bank, row)
		}
	}
	bank = append(bank, []string{unknownPayment, "310.40", "EUR", "2026-03-04", "2026-03-04T11:02:13Z", fakeIBAN(rng)})
	sortRows(bank)
	bank = append([][]string{{"end_to_end_id", "settled_amount", "ccy", "value_date", "booked_at", "debtor_iban"}}, bank...)

	if err := writeCSV(d.LedgerPath, ',', ledger); err != nil {
		return nil, err
	}
	if err := writeCSV(d.SettlementPath, ';', bank); err != nil {
		return nil, err
	}
	d.LedgerRows, d.SettlementRows = len(ledger)-1, len(bank)-1

	key := func(id string) []diff.KeyValue {
		return []diff.KeyValue{{Name: "payment_id", Value: diff.Cell{Text: id}}}
	}
	amountOff, iban := pays[caseAmountOff], pays[caseIBAN]
	bankIBAN := bank[rowIndex(bank, iban.id)][5]
	d.expected = []diff.Discrepancy{
		{Kind: diff.KindMissingInTarget, Key: key(pays[caseMissingSettlement].id)},
		{Kind: diff.KindMissingInSource, Key: key(unknownPayment)},
		{Kind: diff.KindMismatch, Key: key(amountOff.id), Columns: []diff.ColumnDiff{
			{Name: "amount", Source: diff.Cell{Text: "1250.00"}, Target: diff.Cell{Text: "1249.95"}}}},
		{Kind: diff.KindMismatch, Key: key(iban.id), Columns: []diff.ColumnDiff{
			{Name: "iban", Source: diff.Cell{Text: iban.iban}, Target: diff.Cell{Text: bankIBAN}}}},
		{Kind: diff.KindDuplicateKey, Key: key(pays[caseDuplicate].id), Side: diff.SideTarget, Count: 2},
	}
	diff.SortDiscrepancies(d.expected)
	// Every ledger payment but the missing, mismatched and duplicated ones matches.
	d.Matched = int64(demoPayments - 4)
	return d, nil
}

// Expected is the exact set of discrepancies the demo job must report, sorted like
// diff.SortDiscrepancies, its sensitive values masked with maskKey (the key of the
// demo namespace's runs: runner.NamespaceMaskKey).
func (d *Demo) Expected(maskKey []byte) []diff.Discrepancy {
	out := make([]diff.Discrepancy, len(d.expected))
	for i, e := range d.expected {
		e.Columns = slices.Clone(e.Columns)
		for j, c := range e.Columns {
			if c.Name == "iban" {
				e.Columns[j].Source.Text, e.Columns[j].Target.Text = diff.Mask(maskKey, c.Source.Text), diff.Mask(maskKey, c.Target.Text)
			}
		}
		out[i] = e
	}
	return out
}

// fakeIBAN is IBAN-shaped text (the check digits are not valid: this is demo data).
func fakeIBAN(rng *rand.Rand) string {
	var b strings.Builder
	b.WriteString("DE")
	fmt.Fprintf(&b, "%02d", 10+rng.IntN(90))
	for range 18 {
		b.WriteByte(byte('0' + rng.IntN(10)))
	}
	return b.String()
}

// sortRows orders bank rows by value date, then booking time (stable: a duplicate
// stays next to its original).
func sortRows(rows [][]string) {
	slices.SortStableFunc(rows, func(a, b []string) int {
		if c := strings.Compare(a[3], b[3]); c != 0 {
			return c
		}
		ta, _ := time.Parse(time.RFC3339, a[4])
		tb, _ := time.Parse(time.RFC3339, b[4])
		return ta.Compare(tb)
	})
}

func rowIndex(rows [][]string, id string) int {
	for i, r := range rows {
		if r[0] == id {
			return i
		}
	}
	return -1
}

// writeCSV writes rows with delimiter; the demo values never need quoting.
func writeCSV(path string, delim byte, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write demo data: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, r := range rows {
		_, _ = w.WriteString(strings.Join(r, string(delim)))
		_ = w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
