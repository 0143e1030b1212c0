package kit

func Sum(a, b int) int { return a + b }
