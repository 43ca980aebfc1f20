package main

import "satupintu/storage"

// grantAliases lets the admin write device_code for the device flow's
// grant type, whose registered name (RFC 8628 §3.4) is a long URN.
func grantAliases(grants []string) []string {
	out := make([]string, 0, len(grants))
	for _, g := range grants {
		if g == "device_code" {
			g = storage.GrantDeviceCode
		}
		out = append(out, g)
	}
	return out
}
