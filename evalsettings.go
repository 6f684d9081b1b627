package freeseg

import "fmt"

// EvalSettings describes every option that changes the labels, as an
// evaluation's resumable state records them: the settings table's values,
// and the rules the table does not hold.
func EvalSettings(o Options, background bool) map[string]string {
	m := map[string]string{}
	for _, v := range ReportSettings(&o, ForEval, background) {
		m[v.Name] = fmt.Sprint(v.Value)
	}
	m["max_long"] = fmt.Sprint(o.Resize.MaxLong)
	m["pad_windows_to_patch"] = fmt.Sprint(o.Window.PadToPatch)
	m["pamr_dilations"] = fmt.Sprint(o.PAMRDilations)
	m["method_params"] = o.Method.Describe()
	return m
}
