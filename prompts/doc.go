// Package prompts holds the published text-side data of training-free
// open-vocabulary segmentation with CLIP: the prompt-template lists, the
// per-dataset class-name files with their synonyms, and the per-dataset
// evaluation settings of SCLIP, NACLIP and ClearCLIP (docs/model.md#text-classifier and
// docs/protocols.md).
//
// The lists are data copied verbatim from the reference repositories; the
// sources, with the commits they were read at, are named next to each list.
// Spelling, spacing and punctuation are kept exactly, because they decide the
// token ids and therefore the text embeddings.
//
// Templates are Go strings with one "{}" placeholder, filled by [Fill]; this
// is Python's str.format with one positional argument, and the same text as
// the f-string lambdas of SCLIP's prompts/imagenet_template.py.
//
// Class-name files have one class per line and its synonyms separated by a
// separator (", " for SCLIP and NACLIP, "," for ClearCLIP); every synonym is
// a query of its own, and a class scores the maximum over its queries.
package prompts
