package natsconn

import (
	"encoding/json"
	"fmt"
	"mime"

	"github.com/edgepipe/edgepipe/pipeline"
	"github.com/vmihailenco/msgpack/v5"
)

// Summary payload formats (the `format` field) and their Content-Type header values.
const (
	FormatMsgpack      = "msgpack"
	FormatJSON         = "json"
	ContentTypeMsgpack = "application/msgpack"
	ContentTypeJSON    = "application/json"
)

// EncodeSummary encodes s as a msgpack map (format "msgpack" or "") or a JSON object
// (format "json"), keyed by the struct's msgpack/json tags, and returns the payload and
// its Content-Type. It returns an error for an unknown format or an unencodable value.
func EncodeSummary(s pipeline.Summary, format string) ([]byte, string, error) {
	switch format {
	case FormatMsgpack, "":
		b, err := msgpack.Marshal(&s)
		if err != nil {
			return nil, "", fmt.Errorf("encode summary: msgpack: %w", err)
		}
		return b, ContentTypeMsgpack, nil
	case FormatJSON:
		b, err := json.Marshal(&s)
		if err != nil {
			return nil, "", fmt.Errorf("encode summary: json: %w", err)
		}
		return b, ContentTypeJSON, nil
	}
	return nil, "", fmt.Errorf("encode summary: unknown format %q (want %s or %s)", format, FormatMsgpack, FormatJSON)
}

// DecodeSummary decodes a summary payload. It reads JSON when contentType's media type is
// application/json or the payload starts with '{' (a msgpack map never does), msgpack
// otherwise. Unknown keys are ignored. It returns an error when the payload does not
// decode or its schema and version are not pipeline.SummarySchema and
// pipeline.SummaryVersion.
func DecodeSummary(data []byte, contentType string) (pipeline.Summary, error) {
	var s pipeline.Summary
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == ContentTypeJSON || len(data) > 0 && data[0] == '{' {
		if err := json.Unmarshal(data, &s); err != nil {
			return pipeline.Summary{}, fmt.Errorf("decode summary: json: %w", err)
		}
	} else if err := msgpack.Unmarshal(data, &s); err != nil {
		return pipeline.Summary{}, fmt.Errorf("decode summary: msgpack: %w", err)
	}
	if s.Schema != pipeline.SummarySchema || s.Version != pipeline.SummaryVersion {
		return pipeline.Summary{}, fmt.Errorf("decode summary: schema %q version %d, want %q version %d",
			s.Schema, s.Version, pipeline.SummarySchema, pipeline.SummaryVersion)
	}
	return s, nil
}
