// Package letterpdf writes power-of-attorney letters as PDF files, for
// what uploads one without a scanner: the tests of the upload and the
// wizard, and the load tool's registration scenario.
package letterpdf

import (
	"fmt"
	"strings"
)

// Objects are the five objects of a one-page letter, numbered 1 to 5 by
// File: the catalog (with catalogExtra inside its dictionary), the page
// tree, the page (with resourcesExtra among its resources, next to the
// font), its content stream, and Helvetica as /F1.
func Objects(catalogExtra, resourcesExtra, content string) []string {
	catalog := "<< /Type /Catalog /Pages 2 0 R >>"
	if catalogExtra != "" {
		catalog = "<< /Type /Catalog /Pages 2 0 R " + catalogExtra + " >>"
	}
	resources := "<< /Font << /F1 5 0 R >> >>"
	if resourcesExtra != "" {
		resources = "<< /Font << /F1 5 0 R >> " + resourcesExtra + " >>"
	}
	return []string{
		catalog,
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources " + resources + " >>",
		Stream("", content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
}

// Stream is a stream object of data, its dictionary holding dict (more
// entries) and the length.
func Stream(dict, data string) string {
	if dict != "" {
		dict += " "
	}
	return fmt.Sprintf("<< %s/Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// File is a PDF 1.4 file of objects numbered from 1, the first being the
// catalog, with a correct cross-reference table; comment, unless empty,
// is a comment line of its own after the header.
func File(comment string, objects ...string) string {
	var b strings.Builder
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	if comment != "" {
		b.WriteString("%" + comment + "\n")
	}
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.String()
}
