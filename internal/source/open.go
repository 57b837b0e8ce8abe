package source

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/redact"
)

// Options configure Open.
type Options struct {
	// Format overrides the format told by the extension (.csv, .tsv, .jsonl,
	// .ndjson, .parquet, each optionally followed by .gz except .parquet).
	Format Format
	// Compression overrides the compression told by the extension (.gz).
	Compression Compression
	// Delimiter for CSV: default ',' (tab for TSV). Must be a single byte.
	Delimiter rune
	// Quote for CSV: default '"'.
	Quote rune
	// NullMarker for CSV: the unquoted text read as NULL; default "" (an unquoted
	// empty field). See CSVOptions.
	NullMarker string
	// NoHeader says a CSV file has no header row (Columns then names its fields).
	NoHeader bool
	// Columns declares the columns: for CSV with a header and Parquet, the columns
	// to return (by name, in this order); for CSV without a header, the names of
	// the fields; for JSON Lines, the keys to return (default: learned from the first
	// objects, see JSONLOptions).
	Columns []string
	// OrderedBy is the caller's promise that the file is sorted ascending by these
	// columns (byte order of their text). When set, Open returns a
	// diff.OrderedReader; the engine verifies the promise.
	OrderedBy []string
	// Name used in positions; default the base name of the path.
	Name string
	// HTTPClient for http(s) URIs; default http.DefaultClient.
	HTTPClient *http.Client
	// TempDir for spooling a Parquet file fetched over http(s); default os.TempDir.
	TempDir string
}

// Open opens uri, a plain path, a file:///abs/path URI or an http(s) URL, as a
// diff.Reader (a diff.OrderedReader when opts.OrderedBy is set).
//
// An http(s) body is streamed for CSV and JSON Lines; a Parquet file, which needs
// random access, is spooled to a temporary file removed by Close. A gzip file sent with
// Content-Encoding: gzip (and so decompressed by the transport) is read as it arrives.
// A response other than 2xx is an error naming the URL without user info, query or
// fragment (which may carry credentials). ctx bounds the request and the reading of the
// body.
func Open(ctx context.Context, uri string, opts Options) (diff.Reader, error) {
	r, err := open(ctx, uri, opts)
	if err != nil {
		return nil, err
	}
	if len(opts.OrderedBy) == 0 {
		return r, nil
	}
	o, err := Ordered(r, opts.OrderedBy)
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("%s: %w", r.Position(), err)
	}
	return o, nil
}

func open(ctx context.Context, uri string, opts Options) (diff.Reader, error) {
	var (
		filePath string
		u        *url.URL
	)
	switch {
	case hasScheme(uri, "http") || hasScheme(uri, "https"):
		var err error
		u, err = url.Parse(uri)
		if err != nil {
			return nil, fmt.Errorf("invalid URL %s", redact.URL(uri))
		}
	case hasScheme(uri, "file"):
		fu, err := url.Parse(uri)
		if err != nil {
			return nil, fmt.Errorf("invalid file URI %q: %w", uri, err)
		}
		if fu.Host != "" && fu.Host != "localhost" {
			return nil, fmt.Errorf("file URI %q names host %q; only local files are supported", uri, fu.Host)
		}
		if fu.Opaque != "" || !path.IsAbs(fu.Path) {
			return nil, fmt.Errorf("file URI %q must be file:///absolute/path", uri)
		}
		filePath = filepath.FromSlash(fu.Path)
	case strings.Contains(uri, "://"):
		return nil, fmt.Errorf("unsupported URI scheme in %s", redact.URL(uri))
	default:
		filePath = uri
	}

	base := filepath.Base(filePath)
	if u != nil {
		base = path.Base(u.Path)
	}
	if opts.Name == "" {
		opts.Name = base
	}
	format, comp, err := detect(base, opts)
	if err != nil {
		return nil, err
	}
	if format == FormatParquet && comp == CompressionGzip {
		return nil, fmt.Errorf("%s: gzip-compressed Parquet is not supported (Parquet compresses its pages)", opts.Name)
	}

	if u != nil {
		return openHTTP(ctx, u, format, comp, opts)
	}
	f, err := os.Open(filePath)
	if err != nil {
		return nil, err
	}
	if format == FormatParquet {
		st, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		pr, err := NewParquetReader(f, st.Size(), f, ParquetOptions{Columns: opts.Columns, Name: opts.Name})
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		return pr, nil
	}
	rd, err := openStream(f, format, comp, opts)
	if err != nil {
		return nil, err
	}
	if cr, ok := rd.(*CSVReader); ok && comp == CompressionNone {
		if err := cr.enableSplit(f, 0); err != nil {
			_ = rd.Close()
			return nil, fmt.Errorf("%s: %w", opts.Name, err)
		}
	}
	if jr, ok := rd.(*JSONLReader); ok && comp == CompressionNone {
		if err := jr.enableRefetch(f); err != nil {
			_ = rd.Close()
			return nil, fmt.Errorf("%s: %w", opts.Name, err)
		}
	}
	return rd, nil
}

func hasScheme(uri, scheme string) bool {
	return len(uri) > len(scheme)+3 && strings.EqualFold(uri[:len(scheme)], scheme) && uri[len(scheme):len(scheme)+3] == "://"
}

// detect tells the format and compression from the name, unless opts says.
func detect(name string, opts Options) (Format, Compression, error) {
	lower := strings.ToLower(name)
	comp := opts.Compression
	if strings.HasSuffix(lower, ".gz") {
		lower = strings.TrimSuffix(lower, ".gz")
		if comp == CompressionAuto {
			comp = CompressionGzip
		}
	}
	if comp == CompressionAuto {
		comp = CompressionNone
	}
	if comp != CompressionNone && comp != CompressionGzip {
		return "", "", fmt.Errorf("%s: unknown compression %q", opts.Name, comp)
	}
	format := opts.Format
	if format == FormatAuto {
		switch path.Ext(lower) {
		case ".csv":
			format = FormatCSV
		case ".tsv", ".tab":
			format = FormatTSV
		case ".jsonl", ".ndjson":
			format = FormatJSONL
		case ".parquet", ".pq":
			format = FormatParquet
		default:
			return "", "", fmt.Errorf("%s: cannot tell the file format from the name; set the format (csv, tsv, jsonl, parquet)", opts.Name)
		}
	}
	switch format {
	case FormatCSV, FormatTSV, FormatJSONL, FormatParquet:
	default:
		return "", "", fmt.Errorf("%s: unknown format %q", opts.Name, format)
	}
	return format, comp, nil
}

// openStream opens a CSV or JSON Lines reader over rc (closed by the reader).
func openStream(rc io.ReadCloser, format Format, comp Compression, opts Options) (diff.Reader, error) {
	r := io.ReadCloser(rc)
	if comp == CompressionGzip {
		zr, err := gzip.NewReader(rc)
		if err != nil {
			_ = rc.Close()
			return nil, fmt.Errorf("%s: %w", opts.Name, err)
		}
		r = &gzipReadCloser{Reader: zr, under: rc}
	}
	var (
		rd  diff.Reader
		err error
	)
	switch format {
	case FormatCSV, FormatTSV:
		co := CSVOptions{NullMarker: opts.NullMarker, NoHeader: opts.NoHeader, Columns: opts.Columns, Name: opts.Name}
		if format == FormatTSV {
			co.Delimiter = '\t'
		}
		if opts.Delimiter != 0 {
			if opts.Delimiter > 0x7f {
				err = fmt.Errorf("%s: the CSV delimiter must be a single-byte character, not %q", opts.Name, opts.Delimiter)
				break
			}
			co.Delimiter = byte(opts.Delimiter)
		}
		if opts.Quote != 0 {
			if opts.Quote > 0x7f {
				err = fmt.Errorf("%s: the CSV quote must be a single-byte character, not %q", opts.Name, opts.Quote)
				break
			}
			co.Quote = byte(opts.Quote)
		}
		rd, err = NewCSVReader(r, co)
	case FormatJSONL:
		rd, err = NewJSONLReader(r, JSONLOptions{Columns: opts.Columns, Name: opts.Name})
	default:
		err = fmt.Errorf("%s: format %s cannot be streamed", opts.Name, format)
	}
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	return rd, nil
}

type gzipReadCloser struct {
	*gzip.Reader
	under io.Closer
}

func (g *gzipReadCloser) Close() error {
	err := g.Reader.Close()
	if e := g.under.Close(); err == nil {
		err = e
	}
	return err
}

func openHTTP(ctx context.Context, u *url.URL, format Format, comp Compression, opts Options) (diff.Reader, error) {
	safe := redact.URL(u.String())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", safe, stripURLError(err))
	}
	client := opts.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", safe, stripURLError(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", safe, resp.Status)
	}
	body := &httpBody{rc: resp.Body, url: safe}
	if resp.Uncompressed && comp == CompressionGzip {
		// The server sent the .gz file with Content-Encoding: gzip (object storage
		// metadata set on upload) and the transport has already decompressed it: read
		// it as it is, unless it is gzip still (compressed twice).
		body.br = bufio.NewReader(resp.Body)
		if b, err := body.br.Peek(2); err != nil || b[0] != 0x1f || b[1] != 0x8b {
			comp = CompressionNone
		}
	}
	if format != FormatParquet {
		return openStream(body, format, comp, opts)
	}
	tmp, err := os.CreateTemp(opts.TempDir, "clearhouse-*.parquet")
	if err != nil {
		_ = body.Close()
		return nil, fmt.Errorf("spooling %s: %w", safe, err)
	}
	cleanup := func() { _ = tmp.Close(); _ = os.Remove(tmp.Name()) }
	size, err := io.Copy(tmp, body)
	_ = body.Close() // fully read (or failed): nothing to lose
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("spooling %s: %w", safe, err)
	}
	pr, err := NewParquetReader(tmp, size, closerFunc(func() error {
		err := tmp.Close()
		if e := os.Remove(tmp.Name()); err == nil {
			err = e
		}
		return err
	}), ParquetOptions{Columns: opts.Columns, Name: opts.Name})
	if err != nil {
		cleanup()
		return nil, err
	}
	return pr, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// httpBody keeps URLs (which may hold credentials) out of read errors.
type httpBody struct {
	rc  io.ReadCloser
	br  *bufio.Reader // when not nil, rc read through it
	url string
}

func (b *httpBody) Read(p []byte) (int, error) {
	var (
		n   int
		err error
	)
	if b.br != nil {
		n, err = b.br.Read(p)
	} else {
		n, err = b.rc.Read(p)
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("reading %s: %v", b.url, stripURLError(err))
	}
	return n, err
}

func (b *httpBody) Close() error { return b.rc.Close() }

// stripURLError drops the URL that a *url.Error carries.
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
