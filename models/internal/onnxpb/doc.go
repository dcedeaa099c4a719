// Package onnxpb holds the Go types of the ONNX protobuf schema (ModelProto, GraphProto,
// NodeProto, TensorProto, …), generated with protoc-gen-go v1.36.12 from onnx.proto3 of
// github.com/onnx/onnx (IR version 8; Apache-2.0, SPDX header kept in the
// file), as shipped in github.com/advancedclimatesystems/gonnx v1.1.0. Only
// models.ImportONNX uses it. Regenerate with go generate (needs protoc and protoc-gen-go).
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto3=github.com/edgepipe/edgepipe/models/internal/onnxpb;onnxpb onnx.proto3
