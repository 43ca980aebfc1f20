package sqlstore

import (
	"slices"
	"strings"
	"testing"
)

func TestStatements(t *testing.T) {
	text := "-- header; with a semicolon\nCREATE TABLE a (\n    x TEXT -- inline\n);\n\nCREATE INDEX b ON a (x);\n-- trailing comment\n"
	want := []string{"CREATE TABLE a (\n    x TEXT -- inline\n);", "CREATE INDEX b ON a (x);"}
	if got := statements(text); !slices.Equal(got, want) {
		t.Errorf("statements = %q, want %q", got, want)
	}
}

// Every embedded migration must split into statements and substitute every
// type name, for both dialects' placeholders.
func TestMigrationsParse(t *testing.T) {
	for _, d := range []Dialect{
		{Blob: "BLOB", Identity: "INTEGER PRIMARY KEY AUTOINCREMENT"},
		{Blob: "BYTEA", Identity: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"},
	} {
		ms, err := New(nil, d).migrations()
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			t.Fatal("no migrations embedded")
		}
		for _, m := range ms {
			for _, stmt := range statements(m.sql) {
				if !strings.HasSuffix(stmt, ";") {
					t.Errorf("%s: statement does not end with ';': %q", m.name, stmt)
				}
			}
		}
	}
}
