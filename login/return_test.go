package login

import "testing"

func TestLocalPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/device?user_code=BCDF-GHJK": true,
		"/":                           true,
		"":                            false,
		"//evil.example/":             false,
		"/\\evil.example/":            false,
		"https://evil.example/":       false,
		"device":                      false,
		"/device\r\nSet-Cookie: x=y":  false,
	} {
		if got := localPath(p); got != want {
			t.Errorf("localPath(%q) = %v, want %v", p, got, want)
		}
	}
}
