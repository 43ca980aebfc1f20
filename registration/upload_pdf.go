package registration

import (
	"bytes"
	"errors"
	"sort"
)

// The PDF check: the end of the file, the names in it that run code, carry
// files or reach outside the document, and the same names inside
// compressed streams, decoded within the limits below.
//
// Where the names can hide. An action, an annotation or a name tree is a
// dictionary, and a dictionary is either in the file as written (a numbered
// object "N G obj … endobj", the trailer) or inside an object stream (PDF
// 32000-1 §7.5.7: a compressed stream of numbered objects, "/Type /ObjStm"
// with "/N" objects). A stream's own dictionary is never compressed. So
// the check scans every name of the raw file, and decodes and scans every
// stream a reader could treat as an object stream or that holds PDF syntax
// (page content, forms, XML), but not image, font or cross-reference data:
// no reader interprets those as objects, and they are most of the
// compressed bytes of a scanned letter (a page image decodes to 10–30 MB).
//
// Limits. Decoding is streamed: the decoded bytes are scanned as they come
// and never kept, so memory stays at a few decoder windows whatever the
// file claims. The limits bound the work (with every limit reached, well
// under a second of CPU); a file that needs more, or a stream that does not
// decode, is refused as KeyFileUncheckable. A letter's decoded text is
// tens to hundreds of KB, so they leave a wide margin.
const (
	// pdfMaxStreams is the number of streams decoded in one file. A letter
	// of a few pages has tens; Type 3 fonts (one stream per glyph) can
	// bring a 1 MB file to a few thousand.
	pdfMaxStreams = 5_000
	// pdfMaxKeywords bounds the "stream" keywords looked at, decoded or not.
	pdfMaxKeywords = 50_000
	// pdfMaxDecodedTotal is the bytes that all decoding stages of all
	// streams of a file may produce together. Every stage counts, so a
	// chain of filters cannot do unbounded work that the last one hides.
	pdfMaxDecodedTotal = 16 << 20
	// pdfMaxDecoded is the bytes one stream may decode to.
	pdfMaxDecoded = 8 << 20
	// pdfMaxRatio caps decoded/encoded bytes of one stream beyond its first
	// pdfRatioFloor bytes. PDF text and object streams compress 3–20:1;
	// one Flate layer cannot exceed about 1,032:1, so a stream going past
	// the cap is a bomb (often nested filters) and is stopped early.
	pdfMaxRatio   = 250
	pdfRatioFloor = 1 << 20
	// pdfMaxFilters is the longest filter chain decoded; writers use one,
	// sometimes two (ASCII85 over Flate).
	pdfMaxFilters = 4
	// pdfMaxParse is the bytes the stream dictionary parser may read in
	// total. A dictionary is parsed once, but a crafted file can make every
	// "stream" keyword start a parse of the rest of the file.
	pdfMaxParse = 4 << 20
	// pdfMaxDepth is the nesting of arrays and dictionaries in a stream
	// dictionary; deeper is refused rather than recursed into.
	pdfMaxDepth = 32
	// pdfMaxRow is the bytes of one predictor row (PNG and TIFF predictors
	// of Flate and LZW streams).
	pdfMaxRow = 64 << 10
	// pdfMaxName is the longest name compared; every refused name is
	// shorter, so a longer one cannot be refused and is not kept.
	pdfMaxName = 32
)

// pdfRefusedNames are the PDF names (after #xx decoding, PDF 32000-1 §7.3.5,
// so "/J#61vaScript" is "/JavaScript") a power-of-attorney letter needs
// none of, with the reason each is refused. They are refused wherever they
// occur, not only in the place the specification gives them: a name out of
// place in a letter is suspicious enough, and readers are lenient. This is
// defence in depth (ASVS 5.2.2): the real protection is that documents are
// only ever downloaded as attachments with nosniff and a sandbox CSP, never
// rendered in our origin; the officer's own PDF reader is what these keep
// safe.
//
// Deliberately allowed: /OpenAction (writers use it to open at page 1; an
// action it points at is refused by its own type below), /GoTo and /Dest
// (links inside the document), /Named (next page, print), /Hide,
// /SetOCGState, /Thread and /Trans (viewer-only effects), /AcroForm (fields
// without actions: signed and filled-in forms), /Encrypt-free signatures.
var pdfRefusedNames = map[string]string{
	// Run code.
	"JavaScript":       KeyFileActiveContent, // JavaScript action, document JavaScript name tree
	"JS":               KeyFileActiveContent, // the script of a JavaScript action or rendition
	"AA":               KeyFileActiveContent, // additional actions: run without a click (page open, field focus, close, print)
	"Launch":           KeyFileActiveContent, // starts a program or opens a file with its application
	"RichMedia":        KeyFileActiveContent, // Flash, video and 3D players with their own scripting
	"RichMediaExecute": KeyFileActiveContent, // sends commands to such a player
	"3DD":              KeyFileActiveContent, // 3D artwork (U3D/PRC) with 3D JavaScript
	"Rendition":        KeyFileActiveContent, // media playback, may carry JavaScript or point at outside media
	"Movie":            KeyFileActiveContent, // legacy media playback from outside files
	"Sound":            KeyFileActiveContent, // legacy sound playback
	"XFA":              KeyFileActiveContent, // XML forms, with their own scripts
	// Carry other files.
	"EmbeddedFile":   KeyFileActiveContent, // an embedded file stream
	"EmbeddedFiles":  KeyFileActiveContent, // the document's attachment list
	"EF":             KeyFileActiveContent, // a file specification's embedded file (its /Type is optional)
	"FileAttachment": KeyFileActiveContent, // an attachment annotation
	"GoToE":          KeyFileActiveContent, // opens an embedded PDF
	// Reach outside the document: a click (or an automatic action) that
	// contacts a server tells the sender the letter was opened and by whom,
	// can lead the officer to a phishing page, and a UNC path ("\\host\x")
	// makes Windows send the officer's credentials. A plain letter has no
	// links; a letterhead's web address exported as a link is refused too,
	// and printing to PDF removes it.
	"URI":        KeyFileLinks, // opens a web address
	"SubmitForm": KeyFileLinks, // sends the form's data to an address
	"ImportData": KeyFileLinks, // reads form data from another file
	"GoToR":      KeyFileLinks, // opens another PDF, by path, URL or share
	// Cannot be read: strings and streams are encrypted (even with an empty
	// user password), so nothing in them can be checked.
	"Encrypt": KeyFileUncheckable,
}

// pdfSpace is PDF white space (PDF 32000-1 §7.2.2).
const pdfSpace = "\x00\t\n\f\r "

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

// pdfDelimiter reports white space and delimiters, which end a name or a
// keyword.
func pdfDelimiter(c byte) bool {
	return isPDFSpace(c) || c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == '{' || c == '}' || c == '/' || c == '%'
}

// checkPDF checks a file starting with "%PDF-" and returns the catalog key
// of why it is refused, or "".
func checkPDF(data []byte) string {
	// A header "%PDF-d.d" at offset 0: readers tolerate junk before it,
	// which is how polyglots are made, so we do not.
	if len(data) < 8 || !isDigit(data[5]) || data[6] != '.' || !isDigit(data[7]) {
		return KeyFileType
	}
	// The file ends at its last "%%EOF": an incremental update appends a
	// body, a cross-reference section and a new "%%EOF", so earlier ones
	// are inside the document, and only white space may follow the last.
	// Anything else after it is data no reader shows (an appended archive
	// or executable, a second document).
	eof := bytes.LastIndex(data, []byte("%%EOF"))
	if eof < 0 {
		return KeyFileType
	}
	if len(bytes.TrimLeft(data[eof+5:], pdfSpace)) > 0 {
		return KeyFileHiddenData
	}
	if !bytes.Contains(data[max(0, eof-1024):eof], []byte("startxref")) {
		return KeyFileType
	}
	c := pdfCheck{data: data}
	return c.run()
}

// pdfCheck is the state of one PDF check.
type pdfCheck struct {
	data      []byte
	key       string // the most serious reason found so far
	parseLeft int    // of pdfMaxParse
	dec       pdfDecoder
}

// pdfRank orders the reasons: a file with several problems is refused for
// the most telling one.
func pdfRank(key string) int {
	switch key {
	case KeyFileUncheckable:
		return 1
	case KeyFileLinks:
		return 2
	case KeyFileActiveContent:
		return 3
	case KeyFileMalware:
		return 4
	}
	return 0
}

func (c *pdfCheck) note(key string) {
	if pdfRank(key) > pdfRank(c.key) {
		c.key = key
	}
}

// done reports that nothing decoding could find would change the answer.
func (c *pdfCheck) done() bool { return pdfRank(c.key) >= pdfRank(KeyFileActiveContent) }

func (c *pdfCheck) run() string {
	c.parseLeft = pdfMaxParse
	objs := pdfObjTokens(c.data)
	streams, ok := c.findStreams(objs)
	if !ok {
		c.note(KeyFileUncheckable)
	}
	c.scanRaw(streams, objs)
	for _, st := range streams {
		if c.done() {
			break
		}
		c.decodeStream(st)
	}
	return c.key
}

// scanRaw looks at every name in the file as written, stream data
// included: an object can sit anywhere a cross-reference offset points,
// even inside another stream's data. A one- or two-letter name ("/JS",
// "/AA", "/EF") also turns up by chance in compressed or image data, about
// once in 300 MB each; inside the data of a stream it only counts when an
// "obj" keyword there shows an object could be hidden in it.
func (c *pdfCheck) scanRaw(streams []pdfStream, objs []int) {
	var quiet [][2]int // stream data without an object header, merged; streams are in file order
	for _, st := range streams {
		if st.objStream() && len(st.filters()) == 0 {
			continue // uncompressed object stream: its objects have no header
		}
		if i := sort.SearchInts(objs, st.start); i < len(objs) && objs[i] < st.end {
			continue
		}
		if n := len(quiet); n > 0 && st.start <= quiet[n-1][1] {
			quiet[n-1][1] = max(quiet[n-1][1], st.end)
			continue
		}
		quiet = append(quiet, [2]int{st.start, st.end})
	}
	inQuiet := func(at int) bool {
		i := sort.Search(len(quiet), func(i int) bool { return quiet[i][1] > at })
		return i < len(quiet) && quiet[i][0] <= at
	}
	s := nameScanner{onName: func(name []byte, at int) {
		key := pdfRefusedNames[string(name)]
		if key == "" || len(name) <= 2 && inQuiet(at) {
			return
		}
		c.note(key)
	}}
	s.write(c.data)
	s.flush()
}

// pdfObjTokens returns the offsets of every "obj" keyword: preceded by
// white space or a digit ("1 0 obj", and "1 0obj", which lenient readers
// take), followed by a delimiter or the end.
func pdfObjTokens(data []byte) []int {
	var objs []int
	for i := 0; ; {
		k := bytes.Index(data[i:], []byte("obj"))
		if k < 0 {
			return objs
		}
		at := i + k
		i = at + 3
		if at > 0 && (isPDFSpace(data[at-1]) || isDigit(data[at-1])) && (i == len(data) || pdfDelimiter(data[i])) {
			objs = append(objs, at)
		}
	}
}

// pdfStream is a stream found in the file: its dictionary and the offsets
// of its encoded data.
type pdfStream struct {
	dict       map[string]pdfValue
	start, end int
}

// objStream reports a stream a reader could take for an object stream:
// typed so, or with the object count /N that every reader needs (ICC
// profiles have an /N too, and are scanned with the rest).
func (st pdfStream) objStream() bool {
	_, n := st.dict["N"]
	return n || st.dict["Type"].isName("ObjStm")
}

// filters returns the stream's filter names, or nil for none or a value
// filterChain refuses.
func (st pdfStream) filters() []string {
	f, _, _ := filterChain(st.dict)
	return f
}

// findStreams finds every stream of the file: every "stream" keyword that
// ends the dictionary of a numbered object, wherever it is, so that a
// stream hidden inside another stream's data and reached through the
// cross-reference table is found too. A keyword that is neither such a
// stream nor inside the data of one (text in an uncompressed page that
// happens to say "stream") with no object header in between makes the file
// uncheckable (ok false): a reader might see a stream there that we cannot.
func (c *pdfCheck) findStreams(objs []int) (streams []pdfStream, ok bool) {
	type parsed struct {
		dict map[string]pdfValue
		kw   int // offset of the "stream" keyword after the dictionary
		ok   bool
	}
	memo := map[int]parsed{}
	maxEnd, coverStart := 0, 0 // the stream data reaching furthest
	data := c.data
	keywords := 0
	for i := 0; ; {
		k := bytes.Index(data[i:], []byte("stream"))
		if k < 0 {
			return streams, true
		}
		h := i + k
		i = h + 6
		if h == 0 || !(isPDFSpace(data[h-1]) || data[h-1] == '>') || (i < len(data) && !pdfDelimiter(data[i])) {
			continue
		}
		if keywords++; keywords > pdfMaxKeywords {
			return streams, false
		}
		o := -1
		if j := sort.SearchInts(objs, h); j > 0 {
			o = objs[j-1]
		}
		var p parsed
		if o >= 0 {
			var seen bool
			if p, seen = memo[o]; !seen {
				p.dict, p.kw, p.ok = c.parseStreamDict(o + 3)
				memo[o] = p
			}
		}
		switch {
		case p.ok && p.kw == h:
			start, end, ok := streamExtent(data, h, p.dict)
			if !ok {
				return streams, false
			}
			streams = append(streams, pdfStream{dict: p.dict, start: start, end: end})
			if end > maxEnd {
				maxEnd, coverStart = end, start
			}
		case h < maxEnd && o < coverStart:
			// Inside a stream's data, and no object begins between that
			// data's start and here: no reader sees a stream at h.
		default:
			return streams, false
		}
		if c.parseLeft <= 0 {
			return streams, false
		}
	}
}

// parseStreamDict parses the object that starts at from (just after its
// "obj" keyword) and, when it is a dictionary followed by the keyword
// "stream", returns the dictionary and the keyword's offset.
func (c *pdfCheck) parseStreamDict(from int) (map[string]pdfValue, int, bool) {
	end := min(len(c.data), from+c.parseLeft)
	p := pdfParser{data: c.data[:end], pos: from}
	v, err := p.value(pdfKeepDepth)
	if err == nil {
		p.skipSpace()
	}
	c.parseLeft -= p.pos - from
	if err != nil || v.kind != pdfDict || !bytes.HasPrefix(c.data[p.pos:], []byte("stream")) {
		return nil, 0, false
	}
	return v.dict, p.pos, true
}

// streamExtent returns the offsets of the encoded data of the stream whose
// keyword is at kw: from after the end of line that follows the keyword
// (CR LF or LF, a lone CR as lenient readers take it) to /Length bytes
// later when "endstream" follows there, else to the next "endstream" (what
// readers do with a wrong or indirect /Length), less one end of line.
func streamExtent(data []byte, kw int, dict map[string]pdfValue) (start, end int, ok bool) {
	start = kw + 6
	for start < len(data) && data[start] == ' ' {
		start++
	}
	switch {
	case bytes.HasPrefix(data[start:], []byte("\r\n")):
		start += 2
	case start < len(data) && (data[start] == '\n' || data[start] == '\r'):
		start++
	default:
		return 0, 0, false
	}
	if l := dict["Length"]; l.kind == pdfInt && l.num >= 0 && l.num <= int64(len(data)-start) {
		end = start + int(l.num)
		if bytes.HasPrefix(bytes.TrimLeft(data[end:], pdfSpace), []byte("endstream")) {
			return start, end, true
		}
	}
	k := bytes.Index(data[start:], []byte("endstream"))
	if k < 0 {
		return 0, 0, false
	}
	end = start + k
	if end > start && data[end-1] == '\n' {
		end--
	}
	if end > start && data[end-1] == '\r' {
		end--
	}
	return start, end, true
}

// nameScanner finds the names in PDF text fed to it in pieces, decoding
// #xx escapes. With skipStrings it also follows literal and hex strings
// and comments and ignores names in them: the letter's own words in a page
// ("Nomor 12/AA/2024") are not names. That is only right where the text is
// read from the start; objects of the file or of an object stream are
// found by offset, and a string that seems to start earlier could hide
// them, so those are scanned without it.
type nameScanner struct {
	skipStrings bool
	onName      func(name []byte, at int) // at: offset of the '/'

	off   int // offset of the next byte fed
	state uint8
	depth int // of parentheses in a literal string
	name  [pdfMaxName]byte
	n     int
	long  bool
	at    int
	hex   byte // first digit of a #xx escape, as written
}

const (
	scanNormal = iota
	scanName
	scanHash1 // after '#' in a name
	scanHash2 // after '#' and one hex digit
	scanLiteral
	scanLiteralEscape
	scanAfterLT // '<': a dictionary or a hex string
	scanHexString
	scanComment
)

func (s *nameScanner) write(p []byte) {
	for i := 0; i < len(p); i++ {
		if s.state == scanNormal { // skip to the next byte that matters
			var k int
			if s.skipStrings {
				k = bytes.IndexAny(p[i:], "/(<%")
			} else {
				k = bytes.IndexByte(p[i:], '/')
			}
			if k < 0 {
				break
			}
			i += k
		}
		s.step(p[i], s.off+i)
	}
	s.off += len(p)
}

// flush ends a name at the end of the text.
func (s *nameScanner) flush() {
	switch s.state {
	case scanHash1:
		s.add('#')
	case scanHash2:
		s.add('#')
		s.add(s.hex)
	case scanName:
	default:
		return
	}
	s.endName()
}

func (s *nameScanner) step(c byte, at int) {
	switch s.state {
	case scanNormal:
		s.normal(c, at)
	case scanName:
		switch {
		case c == '#':
			s.state = scanHash1
		case pdfDelimiter(c):
			s.endName()
			s.normal(c, at)
		default:
			s.add(c)
		}
	case scanHash1:
		if _, ok := unhex(c); ok {
			s.hex, s.state = c, scanHash2
			return
		}
		s.add('#')
		s.state = scanName
		s.step(c, at)
	case scanHash2:
		if lo, ok := unhex(c); ok {
			hi, _ := unhex(s.hex)
			s.add(hi<<4 | lo)
			s.state = scanName
			return
		}
		s.add('#')
		s.add(s.hex)
		s.state = scanName
		s.step(c, at)
	case scanLiteral:
		switch c {
		case '\\':
			s.state = scanLiteralEscape
		case '(':
			s.depth++
		case ')':
			if s.depth--; s.depth == 0 {
				s.state = scanNormal
			}
		}
	case scanLiteralEscape:
		s.state = scanLiteral
	case scanAfterLT:
		s.state = scanHexString
		if c == '<' || c == '>' {
			s.state = scanNormal
		}
	case scanHexString:
		if c == '>' {
			s.state = scanNormal
		}
	case scanComment:
		if c == '\r' || c == '\n' {
			s.state = scanNormal
		}
	}
}

func (s *nameScanner) normal(c byte, at int) {
	switch {
	case c == '/':
		s.n, s.long, s.at, s.state = 0, false, at, scanName
	case !s.skipStrings:
	case c == '(':
		s.depth, s.state = 1, scanLiteral
	case c == '<':
		s.state = scanAfterLT
	case c == '%':
		s.state = scanComment
	}
}

func (s *nameScanner) add(c byte) {
	if s.n == len(s.name) {
		s.long = true
		return
	}
	s.name[s.n] = c
	s.n++
}

func (s *nameScanner) endName() {
	s.state = scanNormal
	if !s.long {
		s.onName(s.name[:s.n], s.at)
	}
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// pdfValue is a parsed PDF object of a stream dictionary. Only what the
// check uses is kept (see pdfParser); strings, booleans, null and real
// numbers are pdfOther.
type pdfValue struct {
	kind pdfKind
	num  int64 // pdfInt; for pdfArray, the number of elements
	name string
	arr  []pdfValue // the first pdfKeepElems elements
	dict map[string]pdfValue
}

type pdfKind uint8

const (
	pdfNone  pdfKind = iota // absent from a dictionary
	pdfOther                // null, boolean, string, real number
	pdfInt
	pdfName
	pdfArray
	pdfDict
	pdfRef
)

func (v pdfValue) isName(name string) bool { return v.kind == pdfName && v.name == name }

// The entries kept: of a stream dictionary, and of a dictionary inside one
// of those (the filter parameters); an array keeps its first pdfKeepElems
// elements and its length, and nothing deeper than pdfKeepDepth levels is
// kept. A crafted dictionary of a megabyte then costs a parse, not memory.
var (
	pdfStreamKeys = map[string]string{"Filter": "Filter", "DecodeParms": "DecodeParms", "Length": "Length",
		"Type": "Type", "Subtype": "Subtype", "N": "N", "Length1": "Length1", "Length2": "Length2", "Length3": "Length3"}
	pdfParmKeys = map[string]string{"Predictor": "Predictor", "Colors": "Colors",
		"BitsPerComponent": "BitsPerComponent", "Columns": "Columns", "EarlyChange": "EarlyChange"}
)

const (
	pdfKeepElems = pdfMaxFilters + 1
	pdfKeepDepth = 3 // stream dictionary, DecodeParms array, its dictionaries
)

var errPDFSyntax = errors.New("registration: PDF syntax the check does not follow")

// pdfParser parses one PDF object (PDF 32000-1 §7.3) from data[pos:]. It is
// strict where readers are lenient: anything it does not follow is an
// error, and the caller refuses the file rather than guess.
type pdfParser struct {
	data  []byte
	pos   int
	depth int
	name  [pdfMaxName]byte
}

// skipSpace skips white space and comments.
func (p *pdfParser) skipSpace() {
	for p.pos < len(p.data) {
		switch c := p.data[p.pos]; {
		case isPDFSpace(c):
			p.pos++
		case c == '%':
			for p.pos < len(p.data) && p.data[p.pos] != '\r' && p.data[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

// value parses an object; keep is how many levels of it to keep (0: check
// the syntax only).
func (p *pdfParser) value(keep int) (pdfValue, error) {
	p.skipSpace()
	if p.pos >= len(p.data) {
		return pdfValue{}, errPDFSyntax
	}
	switch c := p.data[p.pos]; {
	case c == '<' && p.pos+1 < len(p.data) && p.data[p.pos+1] == '<':
		return p.dict(keep)
	case c == '<':
		return p.hexString()
	case c == '[':
		return p.array(keep)
	case c == '(':
		return p.literal()
	case c == '/':
		p.pos++
		name, ok := p.readName()
		v := pdfValue{kind: pdfName}
		if ok && keep > 0 {
			v.name = string(name)
		}
		return v, nil
	case c == '+' || c == '-' || c == '.' || isDigit(c):
		return p.number()
	case !pdfDelimiter(c):
		start := p.pos
		for p.pos < len(p.data) && !pdfDelimiter(p.data[p.pos]) {
			p.pos++
		}
		switch string(p.data[start:p.pos]) {
		case "true", "false", "null":
			return pdfValue{kind: pdfOther}, nil
		}
	}
	return pdfValue{}, errPDFSyntax
}

func (p *pdfParser) nest() error {
	if p.depth++; p.depth > pdfMaxDepth {
		return errPDFSyntax
	}
	return nil
}

// dict parses "<< /Key value … >>", keeping the stream dictionary's keys
// (at the top) or the filter parameters' (below). A kept key given twice
// is an error: readers disagree on which one counts.
func (p *pdfParser) dict(keep int) (pdfValue, error) {
	if err := p.nest(); err != nil {
		return pdfValue{}, err
	}
	defer func() { p.depth-- }()
	keys := pdfParmKeys
	if keep == pdfKeepDepth {
		keys = pdfStreamKeys
	}
	p.pos += 2
	v := pdfValue{kind: pdfDict}
	if keep > 0 {
		v.dict = map[string]pdfValue{}
	}
	for {
		p.skipSpace()
		if bytes.HasPrefix(p.data[p.pos:], []byte(">>")) {
			p.pos += 2
			return v, nil
		}
		if p.pos >= len(p.data) || p.data[p.pos] != '/' {
			return pdfValue{}, errPDFSyntax
		}
		p.pos++
		var key string
		if name, ok := p.readName(); ok && keep > 0 {
			key = keys[string(name)]
		}
		child := 0
		if key != "" {
			child = keep - 1
		}
		e, err := p.value(child)
		if err != nil {
			return pdfValue{}, err
		}
		if key == "" {
			continue
		}
		if _, dup := v.dict[key]; dup {
			return pdfValue{}, errPDFSyntax
		}
		v.dict[key] = e
	}
}

func (p *pdfParser) array(keep int) (pdfValue, error) {
	if err := p.nest(); err != nil {
		return pdfValue{}, err
	}
	defer func() { p.depth-- }()
	p.pos++
	v := pdfValue{kind: pdfArray}
	for {
		p.skipSpace()
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			return v, nil
		}
		child := 0
		if keep > 0 && v.num < pdfKeepElems {
			child = keep - 1
		}
		e, err := p.value(child)
		if err != nil {
			return pdfValue{}, err
		}
		if keep > 0 && v.num < pdfKeepElems {
			v.arr = append(v.arr, e)
		}
		v.num++
	}
}

// literal skips a literal string: balanced parentheses, backslash escapes.
func (p *pdfParser) literal() (pdfValue, error) {
	depth := 0
	for ; p.pos < len(p.data); p.pos++ {
		switch p.data[p.pos] {
		case '\\':
			p.pos++
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				p.pos++
				return pdfValue{kind: pdfOther}, nil
			}
		}
	}
	return pdfValue{}, errPDFSyntax
}

func (p *pdfParser) hexString() (pdfValue, error) {
	for p.pos++; p.pos < len(p.data); p.pos++ {
		c := p.data[p.pos]
		if c == '>' {
			p.pos++
			return pdfValue{kind: pdfOther}, nil
		}
		if _, ok := unhex(c); !ok && !isPDFSpace(c) {
			break
		}
	}
	return pdfValue{}, errPDFSyntax
}

// readName reads a name after its '/', decoding #xx escapes the way readers
// do ('#' not followed by two hex digits stays as written), into p.name.
// ok is false for a name longer than any the check compares.
func (p *pdfParser) readName() (name []byte, ok bool) {
	n := 0
	for p.pos < len(p.data) && !pdfDelimiter(p.data[p.pos]) {
		c := p.data[p.pos]
		p.pos++
		if c == '#' && p.pos+1 < len(p.data) {
			hi, ok1 := unhex(p.data[p.pos])
			lo, ok2 := unhex(p.data[p.pos+1])
			if ok1 && ok2 {
				c = hi<<4 | lo
				p.pos += 2
			}
		}
		if n < len(p.name) {
			p.name[n] = c
		}
		n++
	}
	return p.name[:min(n, len(p.name))], n <= len(p.name)
}

// number reads a number, and an indirect reference "N G R" when an
// unsigned integer starts one.
func (p *pdfParser) number() (pdfValue, error) {
	start := p.pos
	n, ok := p.integer()
	if !ok || p.pos < len(p.data) && (p.data[p.pos] == '.' || p.data[p.pos] == '+' || p.data[p.pos] == '-') {
		p.pos = start
		return p.real()
	}
	if p.data[start] == '+' || p.data[start] == '-' {
		return pdfValue{kind: pdfInt, num: n}, nil
	}
	save := p.pos
	p.skipSpace()
	if p.pos < len(p.data) && isDigit(p.data[p.pos]) {
		if _, ok := p.integer(); ok {
			p.skipSpace()
			if p.pos < len(p.data) && p.data[p.pos] == 'R' && (p.pos+1 == len(p.data) || pdfDelimiter(p.data[p.pos+1])) {
				p.pos++
				return pdfValue{kind: pdfRef}, nil
			}
		}
	}
	p.pos = save
	return pdfValue{kind: pdfInt, num: n}, nil
}

// integer reads [+-]digits; ok is false without a digit or past 2^53.
func (p *pdfParser) integer() (int64, bool) {
	neg := false
	if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
		neg = p.data[p.pos] == '-'
		p.pos++
	}
	var n int64
	digits := 0
	for ; p.pos < len(p.data) && isDigit(p.data[p.pos]); p.pos++ {
		if n > 1<<53 {
			return 0, false
		}
		n = n*10 + int64(p.data[p.pos]-'0')
		digits++
	}
	if neg {
		n = -n
	}
	return n, digits > 0
}

// real reads [+-]digits.digits (either part may be empty, not both).
func (p *pdfParser) real() (pdfValue, error) {
	if p.data[p.pos] == '+' || p.data[p.pos] == '-' {
		p.pos++
	}
	digits := 0
	for ; p.pos < len(p.data) && isDigit(p.data[p.pos]); p.pos++ {
		digits++
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		for p.pos++; p.pos < len(p.data) && isDigit(p.data[p.pos]); p.pos++ {
			digits++
		}
	}
	if digits == 0 || p.pos < len(p.data) && !pdfDelimiter(p.data[p.pos]) {
		return pdfValue{}, errPDFSyntax
	}
	return pdfValue{kind: pdfOther}, nil
}
