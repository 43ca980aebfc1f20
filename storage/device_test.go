package storage_test

import (
	"strings"
	"testing"

	"satupintu/storage"
)

func TestNormalizeUserCode(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"BCDF-GHJK", "BCDFGHJK", true},
		{"bcdf-ghjk", "BCDFGHJK", true}, // case- and dash-insensitive
		{" bcdfghjk ", "BCDFGHJK", true},
		{"BC-DF-GH-JK", "BCDFGHJK", true},
		{"BCDF-GHJA", "", false}, // a vowel is never in a code
		{"BCDF-GHJ1", "", false},
		{"BCDF-GHJ", "", false},
		{"BCDF-GHJKL", "", false},
		{"", "", false},
		{strings.Repeat("B", 100), "", false},
	}
	for _, tt := range tests {
		got, ok := storage.NormalizeUserCode(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeUserCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got := storage.FormatUserCode("BCDFGHJK"); got != "BCDF-GHJK" {
		t.Errorf("FormatUserCode = %q", got)
	}
}
