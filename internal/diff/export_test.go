package diff

// BeforeLeftOver calls fn after a line join has joined its partitions, before it reads
// the rows left over again (tests change a file there).
func BeforeLeftOver(fn func()) Option { return func(o *options) { o.beforeLeft = fn } }
