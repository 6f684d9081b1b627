//go:build !unix

package main

import "os"

func keyOf(os.FileInfo) (fileKey, bool) { return fileKey{}, false }
