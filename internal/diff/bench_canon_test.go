package diff

import "testing"

func BenchmarkCanon(b *testing.B) {
	for _, tc := range []struct {
		name string
		col  Column
		in   string
	}{
		{"string", Column{Name: "c"}, "customer-1234"},
		{"string-fold", Column{Name: "c", Trim: true, IgnoreCase: true}, "Customer-1234"},
		{"integer", Column{Name: "c", Type: TypeInteger}, "123456"},
		{"decimal-canon", Column{Name: "c", Type: TypeDecimal}, "12345.67"},
		{"decimal-zeros", Column{Name: "c", Type: TypeDecimal}, "12345.6700"},
		{"timestamp", Column{Name: "c", Type: TypeTimestamp}, "2024-01-01 12:34:56.123456"},
		{"timestamp-zone", Column{Name: "c", Type: TypeTimestamp}, "2024-01-01T12:34:56.123456+02:00"},
		{"date", Column{Name: "c", Type: TypeDate}, "2024-01-01"},
		{"boolean", Column{Name: "c", Type: TypeBoolean}, "true"},
		{"json", Column{Name: "c", Type: TypeJSON}, `{"b":1,"a":[1,2,3]}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := compileColumn(tc.col)
			if err != nil {
				b.Fatal(err)
			}
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				buf, _, _ = c.canon(buf[:0], tc.in)
			}
		})
	}
}
