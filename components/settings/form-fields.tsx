"use client";
// Form inputs for the settings pages. Each field shows its message directly under the input and
// ties it to the input (aria-invalid + aria-describedby), so a screen reader announces it and a
// test can read it as the input's description. Messages come from the server: the same zod rules
// that guard the database, never a second copy in the browser.
import type { ReactNode } from "react";
import type { ActionResult } from "@/server/auth/guard";
import type { FieldIssue } from "@/server/settings/errors";
import styles from "./settings.module.css";

export type FieldErrors = Record<string, string>;

/** Field messages and a summary from a failed action (settings actions attach every issue). */
export function errorsOf(res: ActionResult<unknown>): {
  fields: FieldErrors;
  summary: string | null;
  issues: FieldIssue[];
} {
  if (res.ok) return { fields: {}, summary: null, issues: [] };
  const issues =
    (res as { issues?: FieldIssue[] }).issues ??
    (res.field ? [{ field: res.field, message: res.error }] : []);
  const fields: FieldErrors = {};
  for (const issue of issues) fields[issue.field] ??= issue.message;
  return { fields, summary: res.error, issues };
}

type Common = {
  /** Prefix for element ids, unique per form (useId). */
  form: string;
  name: string;
  label: string;
  error?: string;
  hint?: ReactNode;
  wide?: boolean;
};

function describedBy(id: string, error?: string, hint?: ReactNode): string | undefined {
  const ids = [error ? `${id}-error` : null, hint ? `${id}-hint` : null].filter(Boolean);
  return ids.length > 0 ? ids.join(" ") : undefined;
}

function Message({ id, error, hint }: { id: string; error?: string; hint?: ReactNode }) {
  return (
    <>
      {error && (
        <p id={`${id}-error`} className={styles.fieldError} data-field-error="">
          {error}
        </p>
      )}
      {hint && (
        <p id={`${id}-hint`} className={styles.fieldHint}>
          {hint}
        </p>
      )}
    </>
  );
}

export function TextField({
  form,
  name,
  label,
  error,
  hint,
  wide,
  value,
  onChange,
  placeholder,
  readOnly,
  mono,
  inputMode,
  autoComplete = "off",
  required,
}: Common & {
  value: string;
  onChange?: (value: string) => void;
  placeholder?: string;
  readOnly?: boolean;
  mono?: boolean;
  inputMode?: "text" | "numeric" | "decimal" | "url";
  autoComplete?: string;
  required?: boolean;
}) {
  const id = `${form}-${name}`;
  return (
    <div className={`${styles.field} ${wide ? styles.fieldWide : ""}`}>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        value={value}
        onChange={(e) => onChange?.(e.target.value)}
        placeholder={placeholder}
        readOnly={readOnly}
        className={mono ? "mono" : undefined}
        inputMode={inputMode}
        autoComplete={autoComplete}
        spellCheck={false}
        aria-required={required || undefined}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(id, error, hint)}
      />
      <Message id={id} error={error} hint={hint} />
    </div>
  );
}

export function TextAreaField({
  form,
  name,
  label,
  error,
  hint,
  value,
  onChange,
  rows = 6,
  placeholder,
}: Common & { value: string; onChange: (value: string) => void; rows?: number; placeholder?: string }) {
  const id = `${form}-${name}`;
  return (
    <div className={`${styles.field} ${styles.fieldWide}`}>
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        name={name}
        value={value}
        rows={rows}
        onChange={(e) => onChange(e.target.value)}
        placeholder={placeholder}
        autoComplete="off"
        autoCorrect="off"
        autoCapitalize="off"
        spellCheck={false}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(id, error, hint)}
      />
      <Message id={id} error={error} hint={hint} />
    </div>
  );
}

export function SelectField({
  form,
  name,
  label,
  error,
  hint,
  wide,
  value,
  onChange,
  options,
}: Common & {
  value: string;
  onChange: (value: string) => void;
  options: ReadonlyArray<{ value: string; label: string; disabled?: boolean }>;
}) {
  const id = `${form}-${name}`;
  return (
    <div className={`${styles.field} ${wide ? styles.fieldWide : ""}`}>
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        name={name}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(id, error, hint)}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value} disabled={o.disabled}>
            {o.label}
          </option>
        ))}
      </select>
      <Message id={id} error={error} hint={hint} />
    </div>
  );
}

export function CheckboxField({
  form,
  name,
  label,
  error,
  hint,
  checked,
  onChange,
}: Common & { checked: boolean; onChange: (checked: boolean) => void }) {
  const id = `${form}-${name}`;
  return (
    <div className={styles.field}>
      <span className={styles.checkbox}>
        <input
          id={id}
          name={name}
          type="checkbox"
          checked={checked}
          onChange={(e) => onChange(e.target.checked)}
          aria-invalid={error ? true : undefined}
          aria-describedby={describedBy(id, error, hint)}
        />
        <label htmlFor={id}>{label}</label>
      </span>
      <Message id={id} error={error} hint={hint} />
    </div>
  );
}

/** The form-level outcome: what failed overall (fields have their own messages), or what was saved. */
export function FormStatus({ error, success }: { error?: string | null; success?: string | null }) {
  if (error) {
    return (
      <p className={styles.summary} role="alert">
        {error}
      </p>
    );
  }
  if (success) {
    return (
      <p className={styles.success} role="status">
        {success}
      </p>
    );
  }
  return null;
}
