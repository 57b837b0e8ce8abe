package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/redact"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// probeHTTPParquet reads the footer of a Parquet file served over http(s) with range
// requests: its schema and row count, without downloading the file (a reader spools
// all of it, gigabytes every probe interval, and a probe has 30 seconds). handled is
// false when the server answers a range request with anything but the range (no range
// support, 401, 404) or the footer cannot be read: the caller then opens the file as a
// reader would, which tells why. A request that fails (unreachable, timed out) is an
// error: falling back would flap the schema between typed and untyped columns.
func probeHTTPParquet(ctx context.Context, client *http.Client, uri, name string) (cols []chv1.DiscoveredColumn, rows int64, handled bool, err error) {
	if client == nil {
		client = http.DefaultClient
	}
	ra := &httpRanges{ctx: ctx, client: client, uri: uri}
	failed := func() ([]chv1.DiscoveredColumn, int64, bool, error) {
		if ra.err != nil {
			return nil, 0, true, fmt.Errorf("datasource %s: GET %s: %w", name, redact.URL(uri), ra.err)
		}
		return nil, 0, false, nil
	}
	size, err := ra.size()
	if err != nil {
		return failed()
	}
	// The reader's checks first: a corrupt footer is not read by the library.
	rd, err := source.NewParquetReader(ra, size, nil, source.ParquetOptions{Name: name})
	if err != nil {
		return failed()
	}
	_ = rd.Close()
	cols, rows, err = parquetSchemaAt(ra, size)
	if err != nil {
		return failed()
	}
	return cols, rows, true, nil
}

// httpRanges reads a remote file with HTTP range requests (io.ReaderAt).
type httpRanges struct {
	ctx    context.Context
	client *http.Client
	uri    string
	// err is the first request that failed (not one the server answered).
	err error
}

var errNoRanges = errors.New("the server does not serve byte ranges")

// get asks for the bytes first..last and checks that the server sent only them.
func (h *httpRanges) get(first, last int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(h.ctx, http.MethodGet, h.uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", first, last))
	// The bytes as stored: a transparently decompressed body has other offsets.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := h.client.Do(req)
	if err != nil {
		// The URL (which may carry credentials) is left out.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if h.err == nil {
			h.err = err
		}
		return nil, err
	}
	if resp.StatusCode != http.StatusPartialContent || !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", first)) {
		_ = resp.Body.Close()
		return nil, errNoRanges
	}
	return resp, nil
}

// size is the file's length, from the Content-Range of its first byte.
func (h *httpRanges) size() (int64, error) {
	resp, err := h.get(0, 0)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	_, total, ok := strings.Cut(resp.Header.Get("Content-Range"), "/")
	n, err := strconv.ParseInt(total, 10, 64)
	if !ok || err != nil || n <= 0 {
		return 0, errNoRanges
	}
	return n, nil
}

func (h *httpRanges) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	resp, err := h.get(off, off+int64(len(p))-1)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	n, err := io.ReadFull(resp.Body, p)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		err = io.EOF
	case err != nil && h.err == nil:
		h.err = err
	}
	return n, err
}
