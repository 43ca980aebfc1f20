package registration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDocumentSize is the largest power-of-attorney letter accepted: 1 MB,
// read as 1 MiB (1,048,576 bytes). The 2023 manual and the INSW form say
// "maks. 1mb"; taking the binary megabyte never refuses a file the form
// promised to take. A one- or two-page scan fits comfortably, and the
// whole document is kept in the database (DESIGN.md: bytea/blob ≤ 1 MB).
const MaxDocumentSize = 1 << 20

// MaxImagePixels and MaxImageSide bound the dimensions a JPEG or PNG may
// have, read from its header before anything is decoded (ASVS 5.2.3), so a
// small file declaring a huge image (a decompression bomb: 49 megapixels
// of one colour fit in 47 KB of PNG) is refused before it can exhaust
// whoever decodes it. 25 megapixels is an A4 page scanned at 500 dpi or an
// F4 page at 450 dpi (300 dpi, what a letter needs, is 8.7 megapixels) and,
// as 8-bit RGBA, a 100 MB pixel buffer at most; 10,000 pixels is the long
// side of F4 at 770 dpi, and keeps strips of 1 × 25,000,000 out.
const (
	MaxImagePixels = 25_000_000
	MaxImageSide   = 10_000
)

// Accepted content types, decided from the bytes only.
const (
	TypePDF  = "application/pdf"
	TypeJPEG = "image/jpeg"
	TypePNG  = "image/png"
)

// DefaultFileName is the name given to a letter whose own name has nothing
// usable left after sanitizing.
const DefaultFileName = "surat-kuasa"

var extensions = map[string]string{TypePDF: ".pdf", TypeJPEG: ".jpg", TypePNG: ".png"}

// Document is an uploaded letter that passed every check.
type Document struct {
	Data        []byte
	ContentType string // TypePDF, TypeJPEG or TypePNG, from the content
	FileName    string // sanitized, extension matching ContentType; for Content-Disposition only
	SHA256      string // hex of Data
}

// ReadDocument reads an uploaded power-of-attorney letter and checks it
// (ASVS 5.2.1–5.2.2, 5.4.3). It reads at most MaxDocumentSize+1 bytes: one
// byte over is enough to know the file is too large, and the rest is never
// read or buffered. The type comes from the content alone; filename and any
// declared Content-Type are not trusted, and filename only gives a
// sanitized download name. Errors are *FieldError on FieldDocument; a read
// failure (a broken multipart body) is KeyFileRead with the cause wrapped.
//
// A handler that also limits the request body (http.MaxBytesReader, as it
// should) sees *http.MaxBytesError from r for a body over its own limit and
// should show KeyFileTooLarge for it too.
func ReadDocument(r io.Reader, filename string) (Document, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxDocumentSize+1))
	if err != nil {
		return Document{}, &FieldError{Field: FieldDocument, Key: KeyFileRead, Err: err}
	}
	if len(data) > MaxDocumentSize {
		return Document{}, fieldErr(FieldDocument, KeyFileTooLarge)
	}
	if len(data) == 0 {
		return Document{}, fieldErr(FieldDocument, KeyFileEmpty)
	}
	ct, key := checkContent(data)
	if key != "" {
		return Document{}, fieldErr(FieldDocument, key)
	}
	sum := sha256.Sum256(data)
	return Document{
		Data:        data,
		ContentType: ct,
		FileName:    SanitizeFileName(filename, ct),
		SHA256:      hex.EncodeToString(sum[:]),
	}, nil
}

// checkContent returns the content type of data, or the catalog key of why
// it is refused. The result depends on data alone, and the work is bounded
// whatever data claims (see the limits in upload_pdf.go and upload_image.go).
func checkContent(data []byte) (contentType, key string) {
	// A malware scan proper belongs to an external scanner; the EICAR test
	// string is checked here so the refusal path exists and is testable
	// (ASVS 5.4.3), whatever container it is hidden in.
	if bytes.Contains(data, eicar) {
		return "", KeyFileMalware
	}
	// Executables, scripts, archives and markup are refused by name even
	// though none of them has an accepted signature: the list documents what
	// the upload is meant to keep out.
	for _, p := range refusedPrefixes {
		if bytes.HasPrefix(data, p) {
			return "", KeyFileType
		}
	}
	// A file that a browser could sniff as HTML or SVG is refused whatever
	// its first bytes, so even a download served without nosniff cannot run
	// script in our origin (polyglots, ASVS 5.2.2).
	if looksLikeMarkup(data) {
		return "", KeyFileType
	}
	// A ZIP archive (also jar, apk, docx) is read from its end record, which
	// may sit up to 64 KiB + 22 bytes before the end of the file: a letter
	// that is also an archive is refused whatever comes first.
	if hasZipEnd(data) {
		return "", KeyFileHiddenData
	}
	switch {
	case bytes.HasPrefix(data, []byte("%PDF-")):
		if key := checkPDF(data); key != "" {
			return "", key
		}
		return TypePDF, ""
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		if key := checkJPEG(data); key != "" {
			return "", key
		}
		return TypeJPEG, ""
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		if key := checkPNG(data); key != "" {
			return "", key
		}
		return TypePNG, ""
	}
	return "", KeyFileType
}

// zipEnd is the signature of a ZIP end of central directory record.
var zipEnd = []byte("PK\x05\x06")

// hasZipEnd reports a ZIP end record where ZIP readers look for one: in the
// last 22 + 65,535 bytes (the record and its longest comment). By chance
// four given bytes occur there in about one honest file in 65,000.
func hasZipEnd(data []byte) bool {
	return bytes.Contains(data[max(0, len(data)-(22+65535)):], zipEnd)
}

// eicar is the EICAR anti-virus test string, assembled at run time so this
// source file does not itself trip a scanner.
var eicar = []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$` + "EICAR-STANDARD-ANTIVIRUS" + `-TEST-FILE!$H+H*`)

var refusedPrefixes = [][]byte{
	[]byte("MZ"),                 // Windows PE/DOS executable
	[]byte("\x7fELF"),            // ELF executable
	[]byte("#!"),                 // script with an interpreter line
	[]byte("<"),                  // HTML, XML, SVG
	[]byte("PK\x03\x04"),         // zip: also docx/xlsx/jar/apk
	[]byte("\xfe\xed\xfa"),       // Mach-O
	[]byte("\xcf\xfa\xed\xfe"),   // Mach-O 64-bit little endian
	[]byte("\xca\xfe\xba\xbe"),   // Java class / Mach-O universal
	[]byte("\xd0\xcf\x11\xe0"),   // OLE2: legacy Office with macros
	[]byte("{\\rtf"),             // RTF (embedded objects)
	[]byte("\xef\xbb\xbf<"),      // HTML behind a UTF-8 byte order mark
	[]byte("Rar!\x1a\x07"),       // RAR
	[]byte("7z\xbc\xaf\x27\x1c"), // 7-Zip
}

// markupHead are strings that make browsers (or a careless viewer) treat a
// file as HTML/SVG/XML script; looked for case-insensitively in the first
// KB, where MIME sniffing looks (WHATWG MIME Sniffing §7.1).
var markupHead = []string{"<html", "<script", "<!doctype", "<body", "<head", "<svg", "<iframe", "<?xml-stylesheet", "<object", "<embed"}

// markupAnywhere are markers long enough not to occur by chance in
// compressed image or stream data (in 1 MB of random bytes the odds are
// about 1 in a billion), so the whole file can be searched. Shorter tags
// such as "<html" would refuse about one honest 1 MB scan in 65,000.
var markupAnywhere = []string{"<script", "<iframe", "javascript:"}

func looksLikeMarkup(data []byte) bool {
	head := bytes.ToLower(data[:min(len(data), 1024)])
	for _, m := range markupHead {
		if bytes.Contains(head, []byte(m)) {
			return true
		}
	}
	for _, m := range markupAnywhere {
		if containsFold(data, m) {
			return true
		}
	}
	return false
}

// containsFold reports whether data contains the lower-case ASCII needle in
// any letter case, without copying data.
func containsFold(data []byte, needle string) bool {
	first := needle[0]
	for i := 0; i+len(needle) <= len(data); i++ {
		if lowerASCII(data[i]) != first {
			continue
		}
		j := 1
		for j < len(needle) && lowerASCII(data[i+j]) == needle[j] {
			j++
		}
		if j == len(needle) {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// SanitizeFileName turns a user's file name into a safe download name for
// a file of contentType (ASVS 5.3.2, 5.4.1): the base name only (after the
// last '/' or '\', so "../../etc/passwd.pdf", "..\..\x.pdf" and
// "https://host/x.pdf" keep only their last part), every character outside
// [A-Za-z0-9._-] replaced by '_' (NUL, '%' of "%2e%2e%2f", quotes, CR/LF,
// non-ASCII), runs of '_' collapsed, leading and trailing dots, dashes and
// underscores dropped (no hidden or option-like names), at most 100
// characters, and the extension replaced by the one of the sniffed type.
// Percent-escapes are not decoded: the multipart parser already decoded
// the name once (ASVS 1.1.1). The name never reaches a file system path;
// documents are stored under generated ids.
func SanitizeFileName(name, contentType string) string {
	ext := extensions[contentType]
	stem := cleanName(baseName(name))
	if ext != "" {
		if i := strings.LastIndexByte(stem, '.'); i >= 0 {
			stem = stem[:i]
		}
	}
	stem = trimName(stem)
	if len(stem) > 100-len(ext) {
		stem = trimName(stem[:100-len(ext)])
	}
	if stem == "" {
		stem = DefaultFileName
	}
	// A Windows device name cannot be saved under that name on the
	// registrant's or officer's machine.
	if windowsReserved(stem) {
		stem = "_" + stem
	}
	return stem + ext
}

// baseName returns what follows the last slash or backslash: browsers on
// Windows (old IE, some proxies) send full client paths with backslashes.
func baseName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		return name[i+1:]
	}
	return name
}

// cleanName maps every rune outside [A-Za-z0-9._-] to '_' and collapses
// runs of '_'.
func cleanName(s string) string {
	var b strings.Builder
	for _, r := range s {
		c := byte('_')
		if r < utf8.RuneSelf && (isDigit(byte(r)) || isUpper(byte(r)) || r >= 'a' && r <= 'z' || r == '.' || r == '-') {
			c = byte(r)
		}
		if c == '_' && strings.HasSuffix(b.String(), "_") {
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func trimName(s string) string { return strings.Trim(s, "._-") }

func windowsReserved(stem string) bool {
	base, _, _ := strings.Cut(strings.ToUpper(stem), ".")
	switch base {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	return len(base) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) && base[3] >= '1' && base[3] <= '9'
}

// ContentDisposition builds the header for downloading a file named name as
// an attachment, never inline (RFC 6266 §4, ASVS 5.4.1–5.4.2, 3.2.1):
//
//	attachment; filename="<ASCII fallback>"; filename*=UTF-8''<RFC 5987 percent-encoding>
//
// The fallback only contains [A-Za-z0-9._-], and the extended value
// percent-encodes everything but RFC 5987 attr-chars, so quotes, ';', '\'
// and CR/LF can never end the parameter or the header. Directory parts,
// control and format characters (bidi overrides that disguise an
// extension) are removed from both. An empty name gives a bare "attachment".
func ContentDisposition(name string) string {
	var b strings.Builder
	for _, r := range baseName(strings.ToValidUTF8(name, "")) {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			continue
		}
		b.WriteRune(r)
	}
	full := strings.Trim(strings.TrimSpace(b.String()), ".")
	if utf8.RuneCountInString(full) > 100 {
		full = string([]rune(full)[:100])
	}
	if full == "" {
		return "attachment"
	}
	// The fallback keeps the extension even when the stem is all non-ASCII
	// ("laporan-é.pdf" must not become "pdf").
	stem, ext := full, ""
	if i := strings.LastIndexByte(full, '.'); i > 0 {
		stem = full[:i]
		if e := trimName(cleanName(full[i+1:])); e != "" {
			ext = "." + e
		}
	}
	ascii := trimName(cleanName(stem))
	if ascii == "" {
		ascii = DefaultFileName
	}
	ascii += ext
	return `attachment; filename="` + ascii + `"; filename*=UTF-8''` + encodeRFC5987(full)
}

// encodeRFC5987 percent-encodes the UTF-8 bytes of s except attr-char
// (RFC 5987 §3.2.1).
func encodeRFC5987(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isDigit(c) || isUpper(c) || c >= 'a' && c <= 'z' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xF])
	}
	return b.String()
}
