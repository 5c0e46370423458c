//go:build linux

package main

import (
	"fmt"
	"html"
	"strings"
)

// chart draws the median wall time per container of every row as a horizontal
// bar, with the 25th–75th percentile as a whisker. The podman rows, twenty
// times the others, are left to the table: they would flatten every bar.
func chart(res *results) string {
	const (
		labelW, barW, rowH, top = 520, 420, 24, 40
	)
	var rows []row
	for _, r := range res.Rows {
		if r.podman == "" {
			rows = append(rows, r)
		}
	}
	var maxV float64
	for _, r := range rows {
		maxV = max(maxV, summarise(res.Wall[r.Key]).P75)
	}
	if maxV == 0 {
		maxV = 1
	}
	h := top + rowH*len(rows) + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", labelW+barW+90, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">Median wall time per container, /bin/true in a busybox rootfs (lower is better)</text>`+"\n")
	for i, r := range rows {
		s := summarise(res.Wall[r.Key])
		y := top + i*rowH
		color := "#8da0cb"
		if strings.HasPrefix(r.Key, "ours") || strings.HasPrefix(r.Key, "ctrkit") || strings.HasPrefix(r.Key, "spike") {
			color = "#fc8d62"
		} else if r.Key == "c" || r.Key == "c-loop" || r.Key == "go" || r.Key == "go-loop" {
			color = "#a6d854"
		}
		wpx := func(v float64) float64 { return v / maxV * barW }
		label := r.Label
		if len(label) > 80 {
			label = label[:77] + "..."
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-6, y+15, html.EscapeString(label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", labelW, y+4, wpx(s.Median), rowH-8, color)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="black"/>`+"\n", float64(labelW)+wpx(s.P25), float64(labelW)+wpx(s.P75), y+12, y+12)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(labelW)+wpx(max(s.Median, s.P75))+6, y+16, ms(s.Median))
	}
	fmt.Fprintf(&b, `<text x="10" y="%d" font-size="11">green: floors; orange: this library and ctrkit; blue: other tools; podman's rows are in results.md. Whisker: 25th–75th percentile. %s</text>`+"\n", h-10, html.EscapeString(machine()))
	b.WriteString("</svg>\n")
	return b.String()
}
