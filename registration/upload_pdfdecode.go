package registration

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"errors"
	"io"
)

// Decoding of PDF streams for the check (PDF 32000-1 §7.4): the standard
// filters that can hold PDF syntax — Flate, LZW, ASCII85, ASCIIHex and
// RunLength, with PNG and TIFF predictors — each a streaming reader, so a
// stream is scanned as it decodes and never held whole.

var (
	errPDFLimit  = errors.New("registration: PDF decoding limit reached")
	errPDFFilter = errors.New("registration: PDF stream does not decode")
)

// Filter names, long and abbreviated (readers take the inline-image
// abbreviations in stream dictionaries too).
var (
	pdfTextFilters = map[string]string{
		"FlateDecode": "Fl", "Fl": "Fl",
		"LZWDecode": "LZW", "LZW": "LZW",
		"ASCII85Decode": "A85", "A85": "A85",
		"ASCIIHexDecode": "AHx", "AHx": "AHx",
		"RunLengthDecode": "RL", "RL": "RL",
	}
	// Image codecs decode to pixels, never to PDF syntax.
	pdfImageFilters = map[string]bool{
		"DCTDecode": true, "DCT": true, "JPXDecode": true,
		"CCITTFaxDecode": true, "CCF": true, "JBIG2Decode": true,
	}
)

// filterChain returns a stream's filters and their parameters. ok is false
// for what the check cannot follow: a filter or parameter given by
// reference, a chain longer than pdfMaxFilters, mismatched parameters.
func filterChain(dict map[string]pdfValue) (filters []string, parms []map[string]pdfValue, ok bool) {
	switch f := dict["Filter"]; f.kind {
	case pdfNone:
		return nil, nil, true
	case pdfName:
		filters = []string{f.name}
	case pdfArray:
		if f.num > pdfMaxFilters {
			return nil, nil, false
		}
		for _, v := range f.arr {
			if v.kind != pdfName {
				return nil, nil, false
			}
			filters = append(filters, v.name)
		}
	default:
		return nil, nil, false
	}
	parms = make([]map[string]pdfValue, len(filters))
	switch p := dict["DecodeParms"]; p.kind {
	case pdfNone:
	case pdfOther: // null
	case pdfDict:
		// A dictionary goes with a single filter; with an array of filters
		// readers disagree whether it applies.
		if dict["Filter"].kind != pdfName {
			return nil, nil, false
		}
		parms[0] = p.dict
	case pdfArray:
		if p.num != int64(len(filters)) {
			return nil, nil, false
		}
		for i, v := range p.arr {
			switch v.kind {
			case pdfDict:
				parms[i] = v.dict
			case pdfOther:
			default:
				return nil, nil, false
			}
		}
	default:
		return nil, nil, false
	}
	return filters, parms, true
}

// binaryStream reports a stream whose dictionary says it holds image, font
// or cross-reference data, none of which a reader parses as PDF objects. An
// object stream is never binary, whatever else its dictionary says.
func binaryStream(st pdfStream, filters []string) bool {
	if st.objStream() {
		return false
	}
	for _, f := range filters {
		if pdfImageFilters[f] {
			return true
		}
	}
	d := st.dict
	for _, k := range []string{"Length1", "Length2", "Length3"} { // embedded font programs
		if _, ok := d[k]; ok {
			return true
		}
	}
	sub := d["Subtype"]
	return sub.isName("Image") || sub.isName("Type1C") || sub.isName("CIDFontType0C") || sub.isName("OpenType") || d["Type"].isName("XRef")
}

// decodeStream decodes one stream and scans it: names anywhere in an
// object stream, names outside strings in other PDF text, the EICAR string
// in both.
func (c *pdfCheck) decodeStream(st pdfStream) {
	filters, parms, ok := filterChain(st.dict)
	if binaryStream(st, filters) {
		return // not PDF syntax, however it is encoded; the raw scan saw the bytes
	}
	if !ok {
		c.note(KeyFileUncheckable)
		return
	}
	if len(filters) == 0 {
		return // nothing encoded: the raw scan saw it all
	}
	for _, f := range filters {
		if pdfTextFilters[f] == "" { // Crypt, an image codec in an object stream, unknown
			c.note(KeyFileUncheckable)
			return
		}
	}
	d := &c.dec
	if d.streams++; d.streams > pdfMaxStreams {
		c.note(KeyFileUncheckable)
		return
	}
	d.init()
	var r io.Reader = bytes.NewReader(c.data[st.start:st.end])
	for i, f := range filters {
		var err error
		if r, err = d.stage(i, pdfTextFilters[f], parms[i], r); err != nil {
			c.note(KeyFileUncheckable)
			return
		}
	}
	limit := min(pdfMaxDecoded, max(pdfRatioFloor, pdfMaxRatio*int64(st.end-st.start)))
	names := nameScanner{skipStrings: !st.objStream(), onName: func(name []byte, _ int) {
		c.note(pdfRefusedNames[string(name)])
	}}
	virus := tailMatcher{needle: eicar, tail: d.tail[:0]}
	var out int64
	for {
		n, err := r.Read(d.chunk)
		if n > 0 {
			if out += int64(n); out > limit {
				c.note(KeyFileUncheckable)
				return
			}
			names.write(d.chunk[:n])
			if virus.found(d.chunk[:n]) {
				c.note(KeyFileMalware)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			c.note(KeyFileUncheckable)
			return
		}
	}
	names.flush()
}

// tailMatcher finds needle in text fed to it in pieces.
type tailMatcher struct {
	needle, tail []byte
}

func (m *tailMatcher) found(p []byte) bool {
	if bytes.Contains(p, m.needle) {
		return true
	}
	k := len(m.needle) - 1
	joint := append(m.tail, p[:min(len(p), k)]...)
	if bytes.Contains(joint, m.needle) {
		return true
	}
	if len(p) >= k {
		m.tail = append(m.tail[:0], p[len(p)-k:]...)
	} else {
		m.tail = append(m.tail[:0], joint[max(0, len(joint)-k):]...)
	}
	return false
}

// pdfDecoder holds what decoding reuses from stream to stream, so a file
// of thousands of small streams does not allocate a Flate window for each.
type pdfDecoder struct {
	streams int   // decoded so far
	total   int64 // bytes out of every stage so far
	chunk   []byte
	tail    []byte
	stages  [pdfMaxFilters]pdfStage
}

type pdfStage struct {
	in   *bufio.Reader
	zlib io.ReadCloser
	lzw  *lzwReader
	pred predictorReader
}

func (d *pdfDecoder) init() {
	if d.chunk == nil {
		d.chunk = make([]byte, 32<<10)
		d.tail = make([]byte, 0, 2*len(eicar))
	}
}

// stage returns the reader of filter i (by its short name) over r, its
// output counted against pdfMaxDecodedTotal.
func (d *pdfDecoder) stage(i int, filter string, parms map[string]pdfValue, r io.Reader) (io.Reader, error) {
	s := &d.stages[i]
	if s.in == nil {
		s.in = bufio.NewReaderSize(r, 4<<10)
	} else {
		s.in.Reset(r)
	}
	var out io.Reader
	switch filter {
	case "Fl", "LZW":
		pred, err := predictorOf(parms)
		if err != nil {
			return nil, err
		}
		if filter == "Fl" {
			if out, err = s.inflate(); err != nil {
				return nil, err
			}
		} else {
			early, ok := intParm(parms, "EarlyChange", 1)
			if !ok || early != 0 && early != 1 {
				return nil, errPDFFilter
			}
			if s.lzw == nil {
				s.lzw = newLZWReader()
			}
			s.lzw.reset(s.in, int(early))
			out = s.lzw
		}
		if pred.kind != 0 {
			s.pred.reset(out, pred)
			out = &s.pred
		}
	case "A85":
		out = &byteDecoder{in: s.in, step: ascii85Step}
	case "AHx":
		out = &byteDecoder{in: s.in, step: asciiHexStep}
	case "RL":
		out = &byteDecoder{in: s.in, step: runLengthStep}
	default:
		return nil, errPDFFilter
	}
	return &budgetReader{r: out, d: d}, nil
}

// inflate starts a zlib stream (RFC 1950) on s.in: a valid header without a
// preset dictionary, as PDF requires, and its Adler-32 checked at the end,
// so that damaged data is refused rather than scanned as something else.
func (s *pdfStage) inflate() (io.Reader, error) {
	if s.zlib == nil {
		z, err := zlib.NewReader(s.in)
		if err != nil {
			return nil, errPDFFilter
		}
		s.zlib = z
		return z, nil
	}
	if err := s.zlib.(zlib.Resetter).Reset(s.in, nil); err != nil {
		return nil, errPDFFilter
	}
	return s.zlib, nil
}

// budgetReader counts what r produces against the file's total.
type budgetReader struct {
	r io.Reader
	d *pdfDecoder
}

func (b *budgetReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.d.total += int64(n); b.d.total > pdfMaxDecodedTotal {
		return n, errPDFLimit
	}
	if err != nil && err != io.EOF {
		err = errPDFFilter // a corrupt or truncated stream: flate.CorruptInputError, zlib.ErrChecksum, io.ErrUnexpectedEOF
	}
	return n, err
}

// intParm returns a direct integer parameter, def when absent or null.
func intParm(parms map[string]pdfValue, key string, def int64) (int64, bool) {
	switch v := parms[key]; v.kind {
	case pdfNone:
		return def, true
	case pdfInt:
		return v.num, true
	}
	return 0, false
}

// byteDecoder is a streaming decoder whose step decodes the next unit of
// input into out (reusing its buffer), or returns io.EOF at the end of
// data.
type byteDecoder struct {
	in   *bufio.Reader
	step func(in *bufio.Reader, out []byte) ([]byte, error)
	buf  [512]byte
	pend []byte
	err  error
}

func (d *byteDecoder) Read(p []byte) (int, error) {
	for len(d.pend) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		d.pend, d.err = d.step(d.in, d.buf[:0])
	}
	n := copy(p, d.pend)
	d.pend = d.pend[n:]
	return n, nil
}

// asciiHexStep decodes ASCIIHexDecode: hex digit pairs, white space
// ignored, '>' ends the data, a last lone digit is followed by 0.
func asciiHexStep(in *bufio.Reader, out []byte) ([]byte, error) {
	var hi byte
	half := false
	for len(out) < cap(out) {
		c, err := in.ReadByte()
		if err == io.EOF || err == nil && c == '>' {
			if half {
				out = append(out, hi<<4)
			}
			return out, io.EOF
		}
		if err != nil {
			return out, err
		}
		if isPDFSpace(c) {
			continue
		}
		v, ok := unhex(c)
		if !ok {
			return out, errPDFFilter
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		return out, in.UnreadByte() // give the lone digit back for the next step
	}
	return out, nil
}

// ascii85Step decodes one group of ASCII85Decode: five characters '!'–'u'
// to four bytes, 'z' for four zero bytes, "~>" ends the data, a last
// group of n characters gives n-1 bytes.
func ascii85Step(in *bufio.Reader, out []byte) ([]byte, error) {
	var v uint64
	n := 0
	for n < 5 {
		c, err := in.ReadByte()
		if err == io.EOF || err == nil && c == '~' {
			if n == 1 {
				return out, errPDFFilter
			}
			if n == 0 {
				return out, io.EOF
			}
			for i := n; i < 5; i++ {
				v = v*85 + 84
			}
			if v > 0xFFFFFFFF {
				return out, errPDFFilter
			}
			return append(out, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))[:n-1], io.EOF
		}
		switch {
		case err != nil:
			return out, err
		case isPDFSpace(c):
		case c == 'z' && n == 0:
			return append(out, 0, 0, 0, 0), nil
		case c >= '!' && c <= 'u':
			v = v*85 + uint64(c-'!')
			n++
		default:
			return out, errPDFFilter
		}
	}
	if v > 0xFFFFFFFF {
		return out, errPDFFilter
	}
	return append(out, byte(v>>24), byte(v>>16), byte(v>>8), byte(v)), nil
}

// runLengthStep decodes one run of RunLengthDecode: a length byte n, then
// n+1 bytes to copy (n < 128) or one byte to repeat 257-n times (n > 128);
// 128 ends the data. A run cut off by the end of data gives what is there.
func runLengthStep(in *bufio.Reader, out []byte) ([]byte, error) {
	n, err := in.ReadByte()
	if err != nil || n == 128 {
		if err == nil {
			err = io.EOF
		}
		return out, err
	}
	if n < 128 {
		k, err := io.ReadFull(in, out[:int(n)+1])
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return out[:k], err
	}
	b, err := in.ReadByte()
	if err != nil {
		return out, err
	}
	out = out[:257-int(n)]
	for i := range out {
		out[i] = b
	}
	return out, nil
}

// lzwReader decodes LZWDecode (PDF 32000-1 §7.4.4): 9- to 12-bit codes,
// most significant bit first, 256 clears the table, 257 ends the data;
// with EarlyChange 1 (the default) the code width grows one code early.
type lzwReader struct {
	in     *bufio.Reader
	early  int
	bits   uint32
	nbits  uint
	width  uint
	next   int
	prev   int
	prefix [4096]uint16
	suffix [4096]byte
	first  [4096]byte
	length [4096]uint16
	out    [4096]byte
	pend   []byte
	err    error
}

func newLZWReader() *lzwReader {
	d := &lzwReader{}
	for i := range 256 {
		d.suffix[i], d.first[i], d.length[i] = byte(i), byte(i), 1
	}
	return d
}

func (d *lzwReader) reset(in *bufio.Reader, early int) {
	d.in, d.early, d.bits, d.nbits, d.pend, d.err = in, early, 0, 0, nil, nil
	d.clear()
}

func (d *lzwReader) clear() { d.width, d.next, d.prev = 9, 258, -1 }

func (d *lzwReader) Read(p []byte) (int, error) {
	for len(d.pend) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		d.err = d.step()
	}
	n := copy(p, d.pend)
	d.pend = d.pend[n:]
	return n, nil
}

func (d *lzwReader) step() error {
	for d.nbits < d.width {
		b, err := d.in.ReadByte()
		if err != nil {
			return err // io.EOF: data ending without the end code, as readers take it
		}
		d.bits = d.bits<<8 | uint32(b)
		d.nbits += 8
	}
	d.nbits -= d.width
	code := int(d.bits>>d.nbits) & (1<<d.width - 1)
	switch {
	case code == 256:
		d.clear()
		return nil
	case code == 257:
		return io.EOF
	case d.prev < 0:
		if code > 255 {
			return errPDFFilter
		}
		d.emit(code)
		d.prev = code
		return nil
	}
	var first byte
	switch {
	case code < d.next:
		first = d.first[code]
	case code == d.next:
		first = d.first[d.prev]
	default:
		return errPDFFilter
	}
	if d.next < len(d.prefix) {
		d.prefix[d.next], d.suffix[d.next] = uint16(d.prev), first
		d.first[d.next], d.length[d.next] = d.first[d.prev], d.length[d.prev]+1
		d.next++
	}
	d.emit(code)
	if d.next+d.early >= 1<<d.width && d.width < 12 {
		d.width++
	}
	d.prev = code
	return nil
}

// emit sets pend to the string of code.
func (d *lzwReader) emit(code int) {
	n := int(d.length[code])
	for i := n - 1; i >= 0; i-- {
		d.out[i] = d.suffix[code]
		code = int(d.prefix[code])
	}
	d.pend = d.out[:n]
}

// predictor is the /DecodeParms of a Flate or LZW stream: kind 0 none, 2
// TIFF, 10 PNG (10–15 are all PNG: each row says its own filter).
type predictor struct {
	kind, colors, bpc, row int
}

func predictorOf(parms map[string]pdfValue) (predictor, error) {
	kind, ok1 := intParm(parms, "Predictor", 1)
	colors, ok2 := intParm(parms, "Colors", 1)
	bpc, ok3 := intParm(parms, "BitsPerComponent", 8)
	columns, ok4 := intParm(parms, "Columns", 1)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return predictor{}, errPDFFilter
	}
	switch {
	case kind == 1:
		return predictor{}, nil
	case kind >= 10 && kind <= 15:
		kind = 10
	case kind == 2 && (bpc == 8 || bpc == 16):
	default:
		return predictor{}, errPDFFilter
	}
	if colors < 1 || colors > 64 || columns < 1 || columns > pdfMaxRow*8 || bpc != 1 && bpc != 2 && bpc != 4 && bpc != 8 && bpc != 16 {
		return predictor{}, errPDFFilter
	}
	row := (colors*bpc*columns + 7) / 8
	if row > pdfMaxRow {
		return predictor{}, errPDFFilter
	}
	return predictor{kind: int(kind), colors: int(colors), bpc: int(bpc), row: int(row)}, nil
}

// predictorReader undoes a predictor row by row. A last row cut short is
// decoded as far as it goes.
type predictorReader struct {
	r         io.Reader
	p         predictor
	bpp       int
	cur, prev []byte // a row of the PNG predictor with its tag byte in front
	pend      []byte
	err       error
}

func (d *predictorReader) reset(r io.Reader, p predictor) {
	d.r, d.p, d.pend, d.err = r, p, nil, nil
	d.bpp = max(1, (p.colors*p.bpc+7)/8)
	if cap(d.cur) < p.row+1 {
		d.cur, d.prev = make([]byte, p.row+1), make([]byte, p.row+1)
	}
	d.cur, d.prev = d.cur[:p.row+1], d.prev[:p.row+1]
	clear(d.prev)
}

func (d *predictorReader) Read(p []byte) (int, error) {
	for len(d.pend) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		d.pend, d.err = d.nextRow()
	}
	n := copy(p, d.pend)
	d.pend = d.pend[n:]
	return n, nil
}

func (d *predictorReader) nextRow() ([]byte, error) {
	if d.p.kind == 2 {
		row := d.cur[1:]
		n, err := io.ReadFull(d.r, row)
		row = row[:n]
		if d.p.bpc == 8 {
			for i := d.p.colors; i < n; i++ {
				row[i] += row[i-d.p.colors]
			}
		} else {
			for i := 2 * d.p.colors; i+1 < n; i += 2 {
				v := uint16(row[i])<<8 | uint16(row[i+1])
				v += uint16(row[i-2*d.p.colors])<<8 | uint16(row[i-2*d.p.colors+1])
				row[i], row[i+1] = byte(v>>8), byte(v)
			}
		}
		return row, rowErr(n, err)
	}
	n, err := io.ReadFull(d.r, d.cur)
	if n == 0 {
		return nil, rowErr(n, err)
	}
	row, up, bpp := d.cur[1:n], d.prev[1:], d.bpp
	switch d.cur[0] {
	case 0:
	case 1: // Sub
		for i := bpp; i < len(row); i++ {
			row[i] += row[i-bpp]
		}
	case 2: // Up
		for i := range row {
			row[i] += up[i]
		}
	case 3: // Average
		for i := range row {
			var left int
			if i >= bpp {
				left = int(row[i-bpp])
			}
			row[i] += byte((left + int(up[i])) / 2)
		}
	case 4: // Paeth
		for i := range row {
			var left, upLeft int
			if i >= bpp {
				left, upLeft = int(row[i-bpp]), int(up[i-bpp])
			}
			row[i] += paeth(left, int(up[i]), upLeft)
		}
	default:
		return nil, errPDFFilter
	}
	d.cur, d.prev = d.prev, d.cur
	return row, rowErr(n, err)
}

// rowErr turns the end of data inside or after a row into io.EOF.
func rowErr(n int, err error) error {
	if err == io.ErrUnexpectedEOF || err == io.EOF && n == 0 {
		return io.EOF
	}
	return err
}

func paeth(a, b, c int) byte {
	p := a + b - c
	pa, pb, pc := abs(p-a), abs(p-b), abs(p-c)
	switch {
	case pa <= pb && pa <= pc:
		return byte(a)
	case pb <= pc:
		return byte(b)
	}
	return byte(c)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
