package main

import (
	"math"
	"sort"
	"time"
)

// summary describes the samples of one operation of one runtime, in ms.
type summary struct {
	N       int       `json:"n"`
	Median  float64   `json:"median_ms"`
	P90     float64   `json:"p90_ms"`
	Min     float64   `json:"min_ms"`
	Max     float64   `json:"max_ms"`
	Mean    float64   `json:"mean_ms"`
	Samples []float64 `json:"samples_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func summarize(samples []time.Duration) summary {
	s := summary{N: len(samples)}
	if len(samples) == 0 {
		return s
	}
	v := make([]float64, len(samples))
	sum := 0.0
	for i, d := range samples {
		v[i] = ms(d)
		sum += v[i]
	}
	s.Samples = append([]float64(nil), v...)
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		s.Median = v[n/2]
	} else {
		s.Median = (v[n/2-1] + v[n/2]) / 2
	}
	// Nearest-rank percentile.
	s.P90 = v[int(math.Ceil(0.9*float64(n)))-1]
	s.Min, s.Max, s.Mean = v[0], v[n-1], sum/float64(n)
	return s
}
