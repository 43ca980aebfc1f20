package templates

import (
	"net/http/httptest"
	"testing"
)

// BenchmarkRenderLogin renders the sign-in page, the most rendered one, from
// every core at once: all pages of a language share one template set, whose
// lock each render takes briefly.
func BenchmarkRenderLogin(b *testing.B) {
	p, err := New()
	if err != nil {
		b.Fatal(err)
	}
	v := View{Lang: LangID, CSRFToken: "tok", Self: "/login?authRequestID=x",
		Data: map[string]any{"Action": "/login", "ClientName": "e-BPOM"}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := p.Render(httptest.NewRecorder(), 200, "login", v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
