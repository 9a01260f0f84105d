package names

import (
	"math/rand/v2"
	"strconv"
)

// adjectives and surnames are short lists of our own; docker's generator
// draws from longer ones, the shape of the result is the same.
var adjectives = []string{
	"agile", "amazing", "bold", "brave", "busy", "calm", "clever", "cool",
	"crazy", "eager", "elated", "epic", "fervent", "festive", "focused",
	"friendly", "gallant", "gentle", "happy", "hungry", "jolly", "keen",
	"kind", "lucid", "modest", "nifty", "nostalgic", "patient", "quirky",
	"relaxed", "serene", "sharp", "silly", "stoic", "sweet", "tender",
	"trusting", "upbeat", "vibrant", "wizardly", "youthful", "zealous",
}

var surnames = []string{
	"agnesi", "babbage", "bardeen", "bell", "boole", "cerf", "curie",
	"darwin", "dijkstra", "einstein", "euler", "fermat", "feynman", "gauss",
	"goldberg", "hamilton", "hopper", "hypatia", "johnson", "kepler",
	"knuth", "lamport", "lovelace", "maxwell", "meitner", "mirzakhani",
	"newton", "noether", "pascal", "perlman", "ritchie", "shannon",
	"thompson", "torvalds", "turing", "volta", "wilson", "wu", "yalow",
}

// Generate returns a docker-style name "adjective_surname". attempt > 0
// appends a digit, as docker does when the first choices were taken.
func Generate(attempt int) string {
	name := adjectives[rand.IntN(len(adjectives))] + "_" + surnames[rand.IntN(len(surnames))]
	if attempt > 0 {
		name += strconv.Itoa(rand.IntN(10))
	}
	return name
}
