package main

import (
	"slices"
	"testing"
)

func TestParseUser(t *testing.T) {
	for _, tc := range []struct {
		in       string
		uid, gid uint32
		hasGID   bool
		err      bool
	}{
		{in: "0", uid: 0},
		{in: "1000", uid: 1000},
		{in: "1000:1001", uid: 1000, gid: 1001, hasGID: true},
		{in: "0:0", hasGID: true},
		{in: "4294967295:4294967295", uid: 1<<32 - 1, gid: 1<<32 - 1, hasGID: true},
		{in: "", err: true},
		{in: "bob", err: true},
		{in: "1000:", err: true},
		{in: ":1000", err: true},
		{in: "-1", err: true},
		{in: "4294967296", err: true},
		{in: "1000:staff", err: true},
		{in: "1:2:3", err: true},
	} {
		uid, gid, hasGID, err := parseUser(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("parseUser(%q) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && (uid != tc.uid || gid != tc.gid || hasGID != tc.hasGID) {
			t.Errorf("parseUser(%q) = %d, %d, %v; want %d, %d, %v", tc.in, uid, gid, hasGID, tc.uid, tc.gid, tc.hasGID)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	for _, tc := range []struct {
		name          string
		env, add, out []string
	}{
		{"empty", nil, nil, nil},
		{"add", []string{"A=1"}, []string{"B=2"}, []string{"A=1", "B=2"}},
		{"replace in place", []string{"A=1", "B=2"}, []string{"A=3"}, []string{"A=3", "B=2"}},
		{"last wins", []string{"A=1"}, []string{"A=2", "A=3"}, []string{"A=3"}},
		{"empty value", []string{"A=1"}, []string{"A="}, []string{"A="}},
		{"no equals sign", []string{"A=1"}, []string{"A"}, []string{"A"}},
		{"prefix is not a match", []string{"AB=1"}, []string{"A=2"}, []string{"AB=1", "A=2"}},
		{"value with =", nil, []string{"A=b=c"}, []string{"A=b=c"}},
		{"duplicates in env", []string{"A=1", "A=2"}, []string{"A=3"}, []string{"A=3", "A=3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := slices.Clone(tc.env)
			got := mergeEnv(env, tc.add)
			if !slices.Equal(got, tc.out) {
				t.Errorf("mergeEnv(%q, %q) = %q, want %q", tc.env, tc.add, got, tc.out)
			}
			if !slices.Equal(env, tc.env) {
				t.Errorf("mergeEnv changed its input: %q", env)
			}
		})
	}
}
