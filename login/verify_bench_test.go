package login

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"satupintu/password"
)

// BenchmarkVerifyBurst is a burst of sign-ins, each an argon2id check at
// OWASP parameters, through a semaphore of k slots: the server's bound on
// concurrent verifications. It compares k = GOMAXPROCS with 2×GOMAXPROCS;
// more slots than cores only adds memory and cache contention.
func BenchmarkVerifyBurst(b *testing.B) {
	hash, err := password.Hash("kata sandi yang benar", password.OWASP)
	if err != nil {
		b.Fatal(err)
	}
	procs := runtime.GOMAXPROCS(0)
	for _, k := range []int{procs, 2 * procs} {
		b.Run(fmt.Sprintf("slots=%d", k), func(b *testing.B) {
			slots := make(chan struct{}, k)
			var wg sync.WaitGroup
			for b.Loop() {
				wg.Add(1)
				slots <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-slots }()
					if password.Verify("kata sandi yang benar", hash) != nil {
						b.Error("verify failed")
					}
				}()
			}
			wg.Wait()
		})
	}
}
