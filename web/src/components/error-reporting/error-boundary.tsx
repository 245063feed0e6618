"use client";

import { Component, type ReactNode } from "react";

import { IncidentNotice } from "./incident-notice";

type Props = { children: ReactNode };
type State = { error: unknown; failed: boolean };

/** A component-level error boundary: reports what its children throw and offers a retry. */
export class ReportingErrorBoundary extends Component<Props, State> {
  override state: State = { error: null, failed: false };

  static getDerivedStateFromError(error: unknown): State {
    return { error, failed: true };
  }

  override render() {
    if (this.state.failed) {
      return <IncidentNotice error={this.state.error} retry={() => this.setState({ error: null, failed: false })} />;
    }
    return this.props.children;
  }
}
