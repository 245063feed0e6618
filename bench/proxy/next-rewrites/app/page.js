export default function Page() {
  return <p>rewrites benchmark target</p>;
}
