//go:build !unix

package batch

import "os"

func keyOf(os.FileInfo) (fileKey, bool) { return fileKey{}, false }
