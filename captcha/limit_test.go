package captcha

import (
	"fmt"
	"testing"
	"time"

	"satupintu/quota"
)

func TestImageCodesAreBoundedPerAddress(t *testing.T) {
	s, st, clk := newService(t)
	s.Counters = st
	s.ImageLimit = quota.Limit{Name: "captcha-image", PerAddress: 3, Total: 100, Window: 10 * time.Minute}
	flooder := quota.WithAddress(t.Context(), "2001:db8:5:5::1")
	for i := range 10 {
		// Other addresses of the same /64 share the allowance.
		ctx := flooder
		if i > 0 {
			ctx = quota.WithAddress(t.Context(), fmt.Sprintf("2001:db8:5:5::%x", 0xa0+i))
		}
		c, err := s.New(ctx, SignIn, Image)
		if err != nil {
			t.Fatal(err)
		}
		if want := i < 3; c.IsImage() != want {
			t.Fatalf("challenge %d from the /64: image=%v, want %v", i+1, c.IsImage(), want)
		}
		if !c.IsImage() && c.Proof == "" {
			t.Fatalf("challenge %d over the limit has no proof of work either: %+v", i+1, c)
		}
	}
	if got := st.Stats().OneTime; got != 2*3 { // a code and an answer per image
		t.Errorf("store holds %d one-time values after the flood, want 6", got)
	}
	// Someone else still gets an image.
	if c, err := s.New(quota.WithAddress(t.Context(), "192.0.2.9"), SignIn, Image); err != nil || !c.IsImage() {
		t.Fatalf("another address: %+v, %v", c, err)
	}
	clk.Advance(10 * time.Minute)
	if c, err := s.New(flooder, SignIn, Image); err != nil || !c.IsImage() {
		t.Fatalf("the next window: %+v, %v", c, err)
	}
}
