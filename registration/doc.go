// Package registration is the trader sign-up: the wizard, uploads, service
// numbers, tracking, officer review and activation.
package registration
