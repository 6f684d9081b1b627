// Package batch turns the image arguments of a command into a plan of
// inputs and collision-free outputs, and writes those outputs safely
// (docs/cli.md): folders are expanded (recursively on request), freeseg's
// own outputs are never taken as inputs, output names cannot collide,
// outputs never replace an input (compared by file identity), and each
// image's memory is estimated from its header before it is decoded.
package batch
