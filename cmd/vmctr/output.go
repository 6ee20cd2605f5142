package main

import (
	"encoding/json"
	"io"
)

// printJSON writes v as one JSON document (indented for humans).
func printJSON(w io.Writer, v any, indent bool) error {
	enc := json.NewEncoder(w)
	if indent {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}
