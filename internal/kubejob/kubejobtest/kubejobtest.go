// Package kubejobtest plays, for tests on a control plane without a Job controller or
// kubelet (envtest), what those would do with a worker Job.
package kubejobtest

import (
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FailedPod returns the pod of index of bj as the Job controller would create it, and
// the status the kubelet would give it when its worker fails (exit code 2, message the
// tail of its log): create the pod, then update its status with the second value.
func FailedPod(bj *batchv1.Job, index int, message string) (*corev1.Pod, corev1.PodStatus) {
	tpl := bj.Spec.Template
	idx := strconv.Itoa(index)
	labels := map[string]string{"batch.kubernetes.io/job-name": bj.Name, "batch.kubernetes.io/job-completion-index": idx}
	for k, v := range tpl.Labels {
		labels[k] = v
	}
	annotations := map[string]string{"batch.kubernetes.io/job-completion-index": idx}
	for k, v := range tpl.Annotations {
		annotations[k] = v
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: bj.Name + "-" + idx + "-x7k2p", Namespace: bj.Namespace, Labels: labels, Annotations: annotations},
		Spec: *tpl.Spec.DeepCopy()}
	pod.Spec.ServiceAccountName = ""
	now := metav1.Now()
	status := corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "worker", Image: tpl.Spec.Containers[0].Image, ImageID: "sha256:0",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error",
			Message: message + "\n", StartedAt: now, FinishedAt: now}},
	}}}
	return pod, status
}
