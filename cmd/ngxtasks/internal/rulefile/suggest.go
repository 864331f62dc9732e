package rulefile

import "strings"

// suggest returns the candidate closest to word, ignoring case, if it is
// at most two edits away and those edits change less than half of the
// word: a typo ("intervall", "tiemout", "ID") gets a "did you mean", a
// short word that merely resembles a key ("dir" against "id") does not get
// a wrong one. Ties go to the earliest candidate, so the answer does not
// depend on map order.
func suggest(word string, candidates []string) (string, bool) {
	lower := strings.ToLower(word)
	best, bestDist := "", 3
	for _, c := range candidates {
		d := levenshtein(lower, c)
		if d < bestDist && 2*d < len([]rune(word)) {
			best, bestDist = c, d
		}
	}
	return best, best != ""
}

// levenshtein is the edit distance between a and b, counted in runes,
// with a swap of two neighbours counted as one edit (the optimal string
// alignment distance): "agrv" is one typo away from "argv", not two.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// No key is that long; a huge unknown key must not cost a huge table.
		return 1 << 30
	}
	// d[i][j] is the distance between ra[:i] and rb[:j].
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
