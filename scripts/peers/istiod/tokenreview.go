// The TokenReview answer of istiod-kubeless (--tokenReviewKeyFile).
//
// Why: istiod authenticates a pod's pilot-agent (CSRs to its CA, xDS on the secure port) by sending
// the pod's projected service-account JWT to the API server as a TokenReview
// (security/pkg/k8s/tokenreview). Istio's fake clientset has no TokenReview type: the create fails
// ("failed to convert new object (… TokenReview) … no type found"), so without this no JWT is ever
// accepted. This reactor answers the review as kube-apiserver's service-account authenticator would,
// for tokens signed by the given key: signature (RS256 or ES256), expiry and audience checked, the
// `sub` claim `system:serviceaccount:<namespace>:<name>` becoming the user, in the service-account
// groups. Everything else (bad signature, wrong audience, expired, another subject) is answered
// `authenticated: false` with the reason, as the API server does. It is a stand-in for the API
// server's check, not for Istio's: Istio's own code still reads and trusts only the review's answer.
package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"istio.io/istio/pkg/kube"
)

// loadPublicKey reads a PEM public key (PKIX "PUBLIC KEY") or a certificate holding one.
func loadPublicKey(path string) (crypto.PublicKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	default:
		return nil, fmt.Errorf("%s: expected a PUBLIC KEY or CERTIFICATE PEM block, got %q", path, block.Type)
	}
}

// installTokenReview makes the fake clientset answer TokenReview creates for tokens signed by key.
func installTokenReview(client kube.Client, key crypto.PublicKey) error {
	fc, ok := client.Kube().(*kubefake.Clientset)
	if !ok {
		return fmt.Errorf("the kube client is %T, not the fake clientset", client.Kube())
	}
	// Prepended after NewFakeClient's own "create *" reactor, so it runs first; it handles only TokenReviews.
	fc.PrependReactor("create", "tokenreviews", func(action clienttesting.Action) (bool, runtime.Object, error) {
		review, ok := action.(clienttesting.CreateAction).GetObject().(*authenticationv1.TokenReview)
		if !ok {
			return false, nil, nil
		}
		out := review.DeepCopy()
		out.Status = reviewToken(review.Spec.Token, review.Spec.Audiences, key, time.Now())
		return true, out, nil
	})
	return nil
}

type serviceAccountClaims struct {
	jwt.Claims
}

// reviewToken is the API server's answer for one token.
func reviewToken(token string, audiences []string, key crypto.PublicKey, now time.Time) authenticationv1.TokenReviewStatus {
	refuse := func(why string) authenticationv1.TokenReviewStatus {
		return authenticationv1.TokenReviewStatus{Authenticated: false, Error: why}
	}
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return refuse(fmt.Sprintf("invalid bearer token: %v", err))
	}
	var claims serviceAccountClaims
	if err := parsed.Claims(key, &claims); err != nil {
		return refuse(fmt.Sprintf("invalid bearer token: %v", err))
	}
	// No audiences asked: the API server checks its own (here: none); otherwise one must match.
	expected := jwt.Expected{Time: now}
	if len(audiences) > 0 {
		expected.AnyAudience = audiences
	}
	if err := claims.ValidateWithLeeway(expected, 0); err != nil {
		return refuse(fmt.Sprintf("invalid bearer token: %v", err))
	}
	parts := strings.Split(claims.Subject, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" || parts[2] == "" || parts[3] == "" {
		return refuse(fmt.Sprintf("invalid bearer token: subject %q is not system:serviceaccount:<namespace>:<name>", claims.Subject))
	}
	matched := audiences
	if len(audiences) > 0 {
		matched = nil
		for _, a := range audiences {
			if claims.Audience.Contains(a) {
				matched = append(matched, a)
			}
		}
	}
	return authenticationv1.TokenReviewStatus{
		Authenticated: true,
		Audiences:     matched,
		User: authenticationv1.UserInfo{
			Username: claims.Subject,
			Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + parts[2], "system:authenticated"},
		},
	}
}
