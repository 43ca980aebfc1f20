package templates

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// contentType maps an extension to a fixed content type rather than the
// host's mime tables, which differ between machines (ASVS 4.1.1).
func contentType(ext string) (string, bool) {
	switch ext {
	case ".css":
		return "text/css; charset=utf-8", true
	case ".js":
		return "text/javascript; charset=utf-8", true
	case ".svg":
		return "image/svg+xml", true
	case ".png":
		return "image/png", true
	case ".ico":
		return "image/x-icon", true
	case ".txt":
		return "text/plain; charset=utf-8", true
	}
	return "", false
}

type staticFile struct {
	body        []byte
	contentType string
	etag        string
	version     string // short content hash for cache-busting URLs
}

// staticFiles is the read-only set of embedded assets, keyed by file name.
type staticFiles struct {
	files map[string]staticFile
}

func newStaticFiles(fsys fs.FS) (*staticFiles, error) {
	s := &staticFiles{files: map[string]staticFile{}}
	names, err := fs.Glob(fsys, "static/*")
	if err != nil {
		return nil, fmt.Errorf("templates: list static: %w", err)
	}
	for _, name := range names {
		base := path.Base(name)
		ct, ok := contentType(path.Ext(base))
		if !ok {
			return nil, fmt.Errorf("templates: static %s: unknown content type", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("templates: read static %s: %w", base, err)
		}
		sum := sha256.Sum256(b)
		v := hex.EncodeToString(sum[:])[:16]
		s.files[base] = staticFile{body: b, contentType: ct, etag: `"` + v + `"`, version: v}
	}
	return s, nil
}

func (s *staticFiles) url(name string) (string, bool) {
	f, ok := s.files[name]
	if !ok {
		return "", false
	}
	return "/static/" + name + "?v=" + f.version, true
}

// StaticHandler serves the embedded assets under /static/ (mount it as
// "GET /static/"). Only files that exist are served: no directory listing,
// no path walking. URLs carry a content hash (see the static template
// function), so responses may be cached for a year.
func (p *Pages) StaticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		f, ok := p.static.files[name]
		if !ok || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.contentType)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("ETag", f.etag)
		// ServeContent answers If-None-Match with 304 and handles ranges.
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
	})
}
